package probe

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// TestVerdictsGoServer runs a crypto/tls server on 127.0.0.1 for each
// verdict and checks what the probe says about it.
func TestVerdictsGoServer(t *testing.T) {
	p := newPKI(t, "Probe")
	other := newPKI(t, "Other")
	good := p.serverPair(t, testutil.Localhost())
	expiredOpts := testutil.Localhost()
	expiredOpts.NotBefore, expiredOpts.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	futureOpts := testutil.Localhost()
	futureOpts.NotBefore, futureOpts.NotAfter = time.Now().Add(72*time.Hour), time.Now().Add(96*time.Hour)
	wrongName := testutil.Localhost()
	wrongName.DNSNames, wrongName.IPs = []string{"broker.example"}, nil

	selfCA := testutil.NewCA(t, "localhost")
	selfSigned := tls.Certificate{Certificate: [][]byte{selfCA.Cert.Raw}, PrivateKey: selfCA.Key}
	leafOnly := good
	leafOnly.Certificate = leafOnly.Certificate[:1]
	oldInter := p.root.Intermediate(t, "Probe Old Intermediate")
	expInterLeaf, expInterKey := oldInter.Issue(t, testutil.Localhost())
	expInter := tls.Certificate{Certificate: [][]byte{expInterLeaf.Raw, expiredIntermediate(t, p.root, oldInter).Raw}, PrivateKey: expInterKey}

	tests := []struct {
		name    string
		cert    tls.Certificate
		cafile  string
		server  string // ServerName to verify
		verdict Verdict
		want    []string
	}{
		{"good chain", good, p.rootFile, "localhost", VerdictOK, nil},
		{"good chain by IP", good, p.rootFile, "", VerdictOK, nil},
		{"unknown CA", other.serverPair(t, testutil.Localhost()), p.rootFile, "localhost", VerdictUnknownAuthority,
			[]string{`issuer "CN=Other Root,O=certinit test"`, `"Probe Root"`}},
		{"self-signed", selfSigned, p.rootFile, "localhost", VerdictSelfSigned,
			[]string{"self-signed", "exactly this certificate"}},
		{"leaf only, no AIA", leafOnly, p.rootFile, "localhost", VerdictUnknownAuthority,
			[]string{"sent only its own certificate", "fullchain.pem"}},
		{"expired", p.serverPair(t, expiredOpts), p.rootFile, "localhost", VerdictExpired,
			[]string{"expired at", "24 hours ago", "clock says"}},
		{"not yet valid", p.serverPair(t, futureOpts), p.rootFile, "localhost", VerdictNotYetValid,
			[]string{"valid only from", "3 days from now", "NTP"}},
		{"expired intermediate", expInter, p.rootFile, "localhost", VerdictExpired,
			[]string{"intermediate certificate", "chain file is outdated"}},
		{"wrong name", p.serverPair(t, wrongName), p.rootFile, "localhost", VerdictHostnameMismatch,
			[]string{"valid for DNS:broker.example", "bridge_insecure", "not the fix"}},
		{"unknown CA and wrong name", other.serverPair(t, wrongName), p.rootFile, "localhost", VerdictUnknownAuthority,
			[]string{"Next, a client would reject the name: The certificate is valid for DNS:broker.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{tc.cert}})
			rep := run(t, Options{Address: addr, ServerName: tc.server, CAFile: tc.cafile, Offline: true})
			expect(t, rep, tc.verdict, tc.want...)
			if len(rep.Certificates) != len(tc.cert.Certificate) {
				t.Errorf("recorded %d certificates, server sent %d", len(rep.Certificates), len(tc.cert.Certificate))
			}
			if rep.TLSVersion != "TLS 1.3" || rep.Certificates[0].SHA256 == "" || rep.Certificates[0].SubjectHash == "" {
				t.Errorf("facts missing: %+v", rep)
			}
		})
	}
}

// expiredIntermediate is ca's certificate re-signed by root with dates in
// the past: same name and key, so the leaf still chains to it.
func expiredIntermediate(t *testing.T, root, ca *testutil.CA) *x509.Certificate {
	t.Helper()
	tmpl := *ca.Cert
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-72*time.Hour), time.Now().Add(-time.Hour)
	return testutil.CreateCertificate(t, &tmpl, root.Cert, ca.Key.Public(), root.Key)
}

func TestIncompleteChainWithAIA(t *testing.T) {
	p := newPKI(t, "AIA")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(p.inter.Cert.Raw)
	}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/inter.der"
	leaf, key := issueWithAIA(t, p.inter, url)
	addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}}})

	t.Run("fetched", func(t *testing.T) {
		rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: p.rootFile})
		expect(t, rep, VerdictIncompleteChain, "sent only its own certificate", "fullchain.pem", url, `verifies to "AIA Root"`)
	})
	t.Run("offline", func(t *testing.T) {
		rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: p.rootFile, Offline: true})
		expect(t, rep, VerdictIncompleteChain, url, "not fetched")
	})
	t.Run("URL down", func(t *testing.T) {
		down := "http://127.0.0.1:" + strconv.Itoa(testutil.FreePort(t)) + "/x.der"
		leaf, key := issueWithAIA(t, p.inter, down)
		addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}}})
		rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: p.rootFile})
		expect(t, rep, VerdictIncompleteChain, down, "fetching it failed")
	})
}

func TestClientCertificates(t *testing.T) {
	p := newPKI(t, "Client")
	clientLeaf, clientKey := p.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "device-1"}})
	dir := t.TempDir()
	certFile := testutil.WriteFile(t, dir, "client.pem", testutil.CertPEM(clientLeaf, p.inter.Cert))
	keyFile := testutil.WriteFile(t, dir, "client-key.pem", testutil.KeyPEM(t, clientKey))
	stranger := newPKI(t, "Stranger")
	sLeaf, sKey := stranger.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "intruder"}})
	sCert := testutil.WriteFile(t, dir, "stranger.pem", testutil.CertPEM(sLeaf, stranger.inter.Cert))
	sKeyFile := testutil.WriteFile(t, dir, "stranger-key.pem", testutil.KeyPEM(t, sKey))

	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(p.root.Cert)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := &tls.Config{Certificates: []tls.Certificate{p.serverPair(t, testutil.Localhost())}, ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs: clientCAs, MaxVersion: version}
		addr := testutil.ServeTLS(t, cfg)
		name := tls.VersionName(version)
		t.Run(name+" without certificate", func(t *testing.T) {
			rep := run(t, Options{Address: addr, CAFile: p.rootFile})
			expect(t, rep, VerdictClientCertRequired, "requires a client certificate", "Client Root")
			if !rep.ClientCertRequested || rep.ClientCertSent || len(rep.AcceptableCAs) != 1 {
				t.Errorf("request facts: %+v", rep)
			}
		})
		t.Run(name+" with certificate", func(t *testing.T) {
			rep := run(t, Options{Address: addr, CAFile: p.rootFile, CertFile: certFile, KeyFile: keyFile})
			expect(t, rep, VerdictOK)
			if !rep.ClientCertSent {
				t.Error("client certificate not sent")
			}
		})
		t.Run(name+" with a stranger's certificate", func(t *testing.T) {
			rep := run(t, Options{Address: addr, CAFile: p.rootFile, CertFile: sCert, KeyFile: sKeyFile})
			expect(t, rep, VerdictClientCertRequired, `rejected the client certificate "intruder"`)
			if rep.Alert == nil {
				t.Error("no alert recorded")
			}
		})
		t.Run(name+" server not verified", func(t *testing.T) {
			rep := run(t, Options{Address: addr, CAFile: stranger.rootFile, CertFile: certFile, KeyFile: keyFile})
			expect(t, rep, VerdictUnknownAuthority, "also asks for a client certificate")
			if rep.ClientCertSent {
				t.Error("client certificate sent to a server that did not verify")
			}
		})
	}
}

func TestHandshakeFailures(t *testing.T) {
	p := newPKI(t, "HS")
	t.Run("TLS 1.1 only", func(t *testing.T) {
		addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{p.serverPair(t, testutil.Localhost())},
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		rep := run(t, Options{Address: addr, CAFile: p.rootFile})
		expect(t, rep, VerdictHandshakeFailure, "negotiated TLS 1.1", "tls_version tlsv1.2")
	})
	t.Run("server alert", func(t *testing.T) {
		addr := testutil.ServeTLS(t, &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return nil, errors.New("no certificate loaded")
		}})
		rep := run(t, Options{Address: addr, CAFile: p.rootFile})
		expect(t, rep, VerdictHandshakeFailure, "alert internal_error (80)", "loading or using its certificate")
		if rep.Alert == nil || rep.Alert.Name != "internal_error" {
			t.Errorf("alert %+v", rep.Alert)
		}
	})
	t.Run("plain text port", func(t *testing.T) {
		addr := testutil.ServeTCP(t, func(c net.Conn) {
			c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
		})
		rep := run(t, Options{Address: addr, CAFile: p.rootFile})
		expect(t, rep, VerdictHandshakeFailure, "does not speak TLS", "HTTP")
	})
	t.Run("closed without alert", func(t *testing.T) {
		addr := testutil.ServeTCP(t, func(c net.Conn) {
			c.Read(make([]byte, 512))
		})
		rep := run(t, Options{Address: addr, CAFile: p.rootFile})
		expect(t, rep, VerdictHandshakeFailure, "without a TLS alert")
	})
	t.Run("closed port", func(t *testing.T) {
		addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
		rep := run(t, Options{Address: addr, CAFile: p.rootFile})
		expect(t, rep, VerdictConnectFailure, "connection refused")
	})
	t.Run("silent server", func(t *testing.T) {
		// Reads the ClientHello and never answers, until the client leaves.
		addr := testutil.ServeTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
		rep := run(t, Options{Address: addr, CAFile: p.rootFile, Timeout: 300 * time.Millisecond})
		expect(t, rep, VerdictHandshakeFailure, "did not complete the handshake")
	})
}

func TestSplitAddress(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"broker.example", "broker.example", "8883"},
		{"broker.example:1883", "broker.example", "1883"},
		{"127.0.0.1", "127.0.0.1", "8883"},
		{"[::1]:8884", "::1", "8884"},
		{"[::1]", "::1", "8883"},
		{"::1", "::1", "8883"},
	}
	for _, tc := range tests {
		h, p, err := SplitAddress(tc.in)
		if err != nil || h != tc.host || p != tc.port {
			t.Errorf("SplitAddress(%q) = %q, %q, %v", tc.in, h, p, err)
		}
	}
	for _, bad := range []string{"", ":8883", "host:", "a b", "fe80::1::2"} {
		if _, _, err := SplitAddress(bad); err == nil {
			t.Errorf("SplitAddress(%q) accepted", bad)
		}
	}
}

// TestSaveSelfSigned: --save writes the self-signed certificate itself, and
// the directory then works as --capath.
func TestSaveSelfSigned(t *testing.T) {
	key := testutil.NewKey(t, "p256")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "broker"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	self := testutil.CreateCertificate(t, tmpl, tmpl, key.Public(), key)
	addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{self.Raw}, PrivateKey: key}}})
	dir := filepath.Join(t.TempDir(), "saved")
	rep := run(t, Options{Address: addr, ServerName: "localhost", SaveDir: dir})
	expect(t, rep, VerdictSelfSigned, "nothing here verified")
	if len(rep.Saved) != 1 || !strings.HasPrefix(filepath.Base(rep.Saved[0]), "broker-") {
		t.Fatalf("saved %v", rep.Saved)
	}
	expect(t, run(t, Options{Address: addr, ServerName: "localhost", CAPath: dir}), VerdictOK)
}
