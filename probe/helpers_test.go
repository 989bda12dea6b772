package probe

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// testPKI is a root, an intermediate and files for them.
type testPKI struct {
	root, inter *testutil.CA
	dir         string
	rootFile    string
}

func newPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	p := &testPKI{root: testutil.NewCA(t, name+" Root"), dir: t.TempDir()}
	p.inter = p.root.Intermediate(t, name+" Intermediate")
	p.rootFile = testutil.WriteFile(t, p.dir, "root.pem", testutil.CertPEM(p.root.Cert))
	return p
}

// localhostOpts are the names every test server certificate carries.
func localhostOpts() testutil.CertOpts {
	return testutil.CertOpts{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
}

// serverPair issues a server certificate from the intermediate and returns
// it with the chain the server sends (leaf and intermediate).
func (p *testPKI) serverPair(t *testing.T, o testutil.CertOpts) tls.Certificate {
	t.Helper()
	leaf, key := p.inter.Issue(t, o)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, p.inter.Cert.Raw}, PrivateKey: key, Leaf: leaf}
}

// issueWithAIA issues a leaf whose AIA caIssuers URL is url.
func issueWithAIA(t *testing.T, ca *testutil.CA, url string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := newTestKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IssuingCertificateURL: []string{url},
	}
	return createCert(t, tmpl, ca.Cert, key.Public(), ca.Key), key
}

// createCert signs tmpl with signer under parent and parses the result.
func createCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// reissue signs a copy of ca's certificate with ca's own key and new dates:
// same name, same key, different validity (an expired copy of a root).
func reissue(t *testing.T, ca *testutil.CA, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := *ca.Cert
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	return createCert(t, &tmpl, &tmpl, ca.Key.Public(), ca.Key)
}

// startTLS runs a crypto/tls server on 127.0.0.1 that completes handshakes
// and then reads until the client leaves. It returns the address.
func startTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	return startRaw(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if tc.Handshake() == nil {
			io.Copy(io.Discard, tc)
		}
		tc.Close()
	})
}

// startRaw runs handle for every connection to a fresh 127.0.0.1 port.
func startRaw(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var closed atomic.Bool
	t.Cleanup(func() { closed.Store(true); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			go func() {
				defer c.Close()
				if !closed.Load() {
					handle(c)
				}
			}()
		}
	}()
	return l.Addr().String()
}

// startOpenSSL runs `openssl s_server -www` with extra arguments on a free
// port and waits for its ACCEPT line.
func startOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	port := testutil.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(openssl, append([]string{"s_server", "-accept", addr, "-www"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ACCEPT") && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("openssl s_server %v exited: %s", args, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("openssl s_server did not start: %s", stderr.String())
	}
	return addr
}

// run probes with a short timeout and fails on a caller error.
func run(t *testing.T, o Options) *Report {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.SystemRoots == nil {
		o.SystemRoots = x509.NewCertPool() // an empty system store unless a test sets one
	}
	rep, err := Probe(context.Background(), o)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	return rep
}

// expect checks the verdict and that the diagnosis mentions every want.
func expect(t *testing.T, rep *Report, v Verdict, want ...string) {
	t.Helper()
	var sb strings.Builder
	rep.WriteText(&sb)
	text := sb.String()
	if rep.Verdict != v {
		t.Fatalf("verdict %s, want %s\n%s", rep.Verdict, v, text)
	}
	if !strings.HasSuffix(text, "verdict: "+string(v)+"\n") {
		t.Fatalf("text does not end with the verdict line:\n%s", text)
	}
	diag := strings.Join(rep.Diagnosis, "\n")
	for _, w := range want {
		if !strings.Contains(diag, w) {
			t.Errorf("diagnosis lacks %q:\n%s", w, text)
		}
	}
}
