// Package pebbletest runs Let's Encrypt's ACME test server for certinit's
// tests: a real Pebble (v2, from go.mod's tool block, built into .bin/ by
// scripts/deps.sh) with a real pebble-challtestsrv as its DNS server (or
// another one, such as internal/bindtest's BIND for DNS-01), all on
// 127.0.0.1, with real challenge validation. Every name resolves to
// 127.0.0.1 (A only), so the challenge listeners under test must listen
// there on the ports Pebble validates against.
//
// Pebble runs behind a small TCP relay that owns the directory URL: tests
// count the connections a run makes, stop the CA (the URL then fails like
// a CA that is down) and start a fresh one behind the same URL.
//
// It is imported only from _test.go files, never from certinit's own
// code, and it is not a stand-in for a CA: what it runs is the real Pebble.
package pebbletest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// readyTimeout bounds how long Pebble and its DNS server take to answer.
const readyTimeout = 30 * time.Second

// Options shape one Pebble.
type Options struct {
	// Validity is the lifetime of the certificates Pebble issues. Pebble
	// has exactly one profile (with several it picks one at random).
	// Zero means 90 days.
	Validity time.Duration
	// EAB, when not nil, makes Pebble require external account binding
	// with these key ids and base64url HMAC keys.
	EAB map[string]string
	// Env is extra environment for Pebble, after the defaults (which
	// switch off its random faults: PEBBLE_VA_NOSLEEP=1,
	// PEBBLE_WFE_NONCEREJECT=0, PEBBLE_AUTHZREUSE=0); a later entry for
	// the same name wins. Fault tests turn them back on here, e.g.
	// PEBBLE_WFE_NONCEREJECT=100 (every nonce rejected) or
	// PEBBLE_VA_NOSLEEP=0 with PEBBLE_VA_SLEEPTIME=N (each validation
	// waits up to N-1 seconds). SetEnv changes it for the next Restart.
	Env []string
	// Profiles, when not nil, are Pebble's issuance profiles by name,
	// with the lifetime of their certificates, instead of the one
	// profile "default" of Validity. An order should name one: Pebble
	// picks one at random for an order that does not.
	Profiles map[string]time.Duration
	// DNSServer, when set, is the DNS server (HOST:PORT) Pebble resolves
	// and validates DNS-01 through, such as a bindtest.Server, instead of
	// a pebble-challtestsrv of its own.
	DNSServer string
}

// Server is a running Pebble.
type Server struct {
	DirectoryURL string // https://127.0.0.1:PORT/dir, through the relay
	CAFile       string // CA of Pebble's own HTTPS certificate (--acme-ca)
	HTTPPort     int    // where Pebble's VA connects for HTTP-01
	TLSPort      int    // where Pebble's VA connects for TLS-ALPN-01

	opts    Options
	dir     string
	tlsConf *tls.Config
	dnsAddr string
	relay   *testutil.Relay
	pebble  *process
	mgmt    string
}

// Start runs pebble-challtestsrv and Pebble; t.Cleanup stops them.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Validity == 0 {
		o.Validity = 90 * 24 * time.Hour
	}
	s := &Server{opts: o, dir: t.TempDir(), HTTPPort: testutil.FreePort(t), TLSPort: testutil.FreePort(t)}
	s.writeTLS(t)
	if s.dnsAddr = o.DNSServer; s.dnsAddr == "" {
		s.startDNS(t)
	}
	s.relay = testutil.StartRelay(t, "127.0.0.1:0", "")
	s.DirectoryURL = "https://" + s.relay.Addr() + "/dir"
	s.Restart(t)
	return s
}

// HTTPAddr and TLSAddr are the challenge listener addresses to configure.
func (s *Server) HTTPAddr() string { return "127.0.0.1:" + strconv.Itoa(s.HTTPPort) }
func (s *Server) TLSAddr() string  { return "127.0.0.1:" + strconv.Itoa(s.TLSPort) }

// Connections counts the connections made to the directory URL so far.
func (s *Server) Connections() int64 { return s.relay.Connections() }

// writeTLS makes Pebble's HTTPS certificate (127.0.0.1 and localhost) and
// the CA file a client passes as --acme-ca.
func (s *Server) writeTLS(t testing.TB) {
	ca := testutil.NewCA(t, "certinit pebbletest CA")
	cert, key := ca.Issue(t, testutil.CertOpts{
		Subject:  pkix.Name{CommonName: "pebble"},
		DNSNames: []string{"localhost"},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	testutil.WriteFile(t, s.dir, "pebble-cert.pem", testutil.CertPEM(cert))
	testutil.WriteFile(t, s.dir, "pebble-key.pem", testutil.KeyPEM(t, key))
	s.CAFile = testutil.WriteFile(t, s.dir, "pebble-ca.pem", testutil.CertPEM(ca.Cert))
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	s.tlsConf = &tls.Config{RootCAs: pool}
}

func (s *Server) startDNS(t testing.TB) {
	bin := testutil.RequireTool(t, "pebble-challtestsrv")
	s.dnsAddr = "127.0.0.1:" + strconv.Itoa(testutil.FreeUDPAndTCPPort(t))
	startProcess(t, "pebble-challtestsrv", nil, bin,
		"-dnsserver", s.dnsAddr, "-management", "127.0.0.1:"+strconv.Itoa(testutil.FreePort(t)),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.dnsAddr)
	}}
	testutil.Eventually(t, readyTimeout, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := r.LookupHost(ctx, "ready.certinit.test")
		return err == nil, fmt.Sprintf("pebble-challtestsrv DNS: %v", err)
	})
}

// Restart starts a fresh Pebble (new CA, no accounts) behind the same
// directory URL, stopping the running one first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	bin := testutil.RequireTool(t, "pebble")
	listen := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	s.mgmt = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        s.mgmt,
		"certificate":                    filepath.Join(s.dir, "pebble-cert.pem"),
		"privateKey":                     filepath.Join(s.dir, "pebble-key.pem"),
		"httpPort":                       s.HTTPPort,
		"tlsPort":                        s.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": s.opts.EAB != nil,
		"externalAccountMACKeys":         s.opts.EAB,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles":                       s.profiles(),
	}}
	data, _ := json.Marshal(conf)
	cfgPath := testutil.WriteFile(t, s.dir, "pebble-config.json", data)
	env := append([]string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}, s.opts.Env...)
	s.pebble = startProcess(t, "pebble", env, bin, "-config", cfgPath, "-dnsserver", s.dnsAddr)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.tlsConf}, Timeout: 2 * time.Second}
	testutil.Eventually(t, readyTimeout, func() (bool, string) {
		resp, err := client.Get("https://" + listen + "/dir")
		if err != nil {
			return false, fmt.Sprintf("pebble directory: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, "pebble directory: " + resp.Status
	})
	s.relay.SetUpstream(listen)
}

// SetEnv replaces Options.Env for the next Restart (the running Pebble
// keeps its environment).
func (s *Server) SetEnv(env ...string) { s.opts.Env = env }

// Stop stops Pebble; the directory URL then refuses every connection.
func (s *Server) Stop() {
	s.relay.SetUpstream("")
	if s.pebble != nil {
		s.pebble.stop()
		s.pebble = nil
	}
}

// RootPEM fetches the running Pebble's issuing root from its management
// API (it is new with every start).
func (s *Server) RootPEM(t testing.TB) []byte {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.tlsConf}, Timeout: 5 * time.Second}
	resp, err := client.Get("https://" + s.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebble management API: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebble root: %s %v", resp.Status, err)
	}
	return data
}

// Roots is RootPEM as a pool.
func (s *Server) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	certs, err := pemfile.Certificates(s.RootPEM(t))
	if err != nil {
		t.Fatalf("pebble root: %v", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}
