package acme

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/testutil"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// autocertCache fills a cache directory the way certinit did before it
// ordered through x/crypto/acme's order flow: with autocert itself, which
// wrote the account key and one certificate per name.
func autocertCache(t *testing.T, p *pebbletest.Server, dir, name string) *tls.Certificate {
	t.Helper()
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(dir),
		HostPolicy: autocert.HostWhitelist(name),
		Client:     &acme.Client{DirectoryURL: p.DirectoryURL, HTTPClient: caClient(t, p)},
	}
	hl, err := net.Listen("tcp", p.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go http.Serve(hl, m.HTTPHandler(nil))
	tl, err := tls.Listen("tcp", p.TLSAddr(), m.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: name, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
	if err != nil {
		t.Fatalf("autocert: %v", err)
	}
	return cert
}

// TestAutocertCache: the certificate and the account an earlier certinit
// kept through autocert are used: no new order for a certificate that is
// still good, and the same account key for the next one.
func TestAutocertCache(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	const name = "migrate.certinit.test"
	cfg := acmeConfig(t, p, name)
	cacheDir := filepath.Join(cfg.Out+".cache", "acme", directoryID(p.DirectoryURL))
	old := autocertCache(t, p, cacheDir, name)
	accountKey, err := os.ReadFile(filepath.Join(cacheDir, accountKeyEntry))
	if err != nil {
		t.Fatalf("autocert's account key: %v", err)
	}

	iss, _ := mustNew(t, cfg)
	c := obtain(t, iss).Certs[0]
	if c.Issued || c.Serial != old.Leaf.SerialNumber.Text(16) {
		t.Fatalf("%+v, want autocert's certificate %s from the cache", c, old.Leaf.SerialNumber.Text(16))
	}
	checkOutput(t, cfg.Out, p.Roots(t), writeRoot(t, p.RootPEM(t)), name, KeyECDSA, 0o600)

	cfg.ForceRenewal = true
	iss, _ = mustNew(t, cfg)
	if c := obtain(t, iss).Certs[0]; !c.Issued {
		t.Fatalf("forced renewal: %+v", c)
	}
	if now, _ := os.ReadFile(filepath.Join(cacheDir, accountKeyEntry)); !bytes.Equal(now, accountKey) {
		t.Errorf("the account key changed: a new account instead of autocert's")
	}
}

// TestOldLayoutWarning: certinit once wrote one certificate per name, the
// further names' into OUT/NAME/. Those files are left alone, with one
// warning naming them, since nothing renews them any more.
func TestOldLayoutWarning(t *testing.T) {
	cfg := localConfig(t, "a.lan", "b.lan", "c.lan")
	old := filepath.Join(cfg.Out, "b.lan")
	testutil.WriteFile(t, old, CertFile, []byte("old"))
	is := &ACMEIssuer{cfg: cfg}
	logs, log := testutil.NewLogs(t)
	is.log = log
	is.noteOldLayout()
	is.noteOldLayout()
	recs := logs.Matching(testutil.HasKey("path"))
	if len(recs) != 1 || recs[0].Attrs["path"] != old {
		t.Fatalf("warnings %v, want one naming %s", recs, old)
	}
	if data, _ := os.ReadFile(filepath.Join(old, CertFile)); string(data) != "old" {
		t.Errorf("the old file changed")
	}
}
