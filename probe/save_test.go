package probe

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// withMozilla stands in roots for the Mozilla set certinit carries, for
// the test: no public intermediate is at hand offline.
func withMozilla(t *testing.T, roots ...*x509.Certificate) {
	t.Helper()
	saved := mozillaSet
	mozillaSet = func(*slog.Logger) ([]*x509.Certificate, error) { return roots, nil }
	t.Cleanup(func() { mozillaSet = saved })
}

// saveThenCapath probes addr with o and --save into a new directory, then
// probes again with --capath that directory alone, and has openssl
// s_client -CApath agree. It returns the first report and the directory.
func saveThenCapath(t *testing.T, addr string, o Options) (*Report, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "saved")
	o.Address, o.ServerName, o.SaveDir = addr, "localhost", dir
	rep := run(t, o)
	if len(rep.Saved) == 0 {
		t.Fatalf("nothing saved:\n%s", reportText(rep))
	}
	checkSaved(t, addr, dir)
	return rep, dir
}

// checkSaved has probe --capath dir and openssl s_client -CApath dir
// accept the server at addr.
func checkSaved(t *testing.T, addr, dir string) {
	t.Helper()
	if rep := run(t, Options{Address: addr, ServerName: "localhost", CAPath: dir}); rep.Verdict != VerdictOK {
		t.Errorf("probe --capath %s:\n%s", dir, reportText(rep))
	}
	if v := testutil.OpenSSLConnect(t, addr, "localhost", testutil.VerifyFiles{CApath: dir}); !v.OK {
		t.Errorf("openssl s_client -CApath %s refuses: error %d at depth %d\n%s", dir, v.Code, v.Depth, v.Output)
	}
}

// TestSaveChainToRoot: the server sends its certificate and intermediate,
// not the root. --save keeps the chain up to and including the root,
// wherever the root comes from: the trust given, or the Mozilla set when
// the trust lacks it (the system store, or an intermediate alone).
func TestSaveChainToRoot(t *testing.T) {
	p := newPKI(t, "Save")
	addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{p.serverPair(t, testutil.Localhost())}})
	interFile := testutil.WriteFile(t, t.TempDir(), "chain.pem", testutil.CertPEM(p.inter.Cert))

	t.Run("root from --cafile", func(t *testing.T) {
		withMozilla(t)
		rep, _ := saveThenCapath(t, addr, Options{CAFile: p.rootFile})
		expect(t, rep, VerdictOK)
		if len(rep.Saved) != 2 {
			t.Errorf("saved %v, want the intermediate and the root", rep.Saved)
		}
	})
	t.Run("root from the Mozilla set, system store without it", func(t *testing.T) {
		withMozilla(t, p.root.Cert)
		rep, _ := saveThenCapath(t, addr, Options{})
		expect(t, rep, VerdictUnknownAuthority, "from the Mozilla root set")
	})
	t.Run("root from the Mozilla set, intermediate alone as trust", func(t *testing.T) {
		withMozilla(t, p.root.Cert)
		rep, _ := saveThenCapath(t, addr, Options{CAFile: interFile})
		expect(t, rep, VerdictUnknownAuthority, "not a self-signed root", `"Save Root"`, "Mozilla root set")
		if rep.OpenSSLError == nil || rep.OpenSSLError.Code != 2 {
			t.Errorf("OpenSSL error %+v, want 2 (unable to get issuer certificate)", rep.OpenSSLError)
		}
	})
	t.Run("no root anywhere", func(t *testing.T) {
		withMozilla(t)
		dir := filepath.Join(t.TempDir(), "saved")
		rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: interFile, SaveDir: dir, Offline: true})
		expect(t, rep, VerdictUnknownAuthority, "Nothing saved", `"Save Intermediate"`)
		if len(rep.Saved) > 0 || testutil.Exists(dir) {
			t.Errorf("saved %v without a root", rep.Saved)
		}
	})
}

// TestSaveSameNamedCAs: two servers whose CAs have the same names (root
// and intermediate) and different keys, saved into one directory. Each
// file keeps its certificate; both servers verify afterwards, and saving
// the first again changes nothing.
func TestSaveSameNamedCAs(t *testing.T) {
	withMozilla(t)
	a, b := newPKI(t, "Twin"), newPKI(t, "Twin")
	addrA := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{a.serverPair(t, testutil.Localhost())}})
	addrB := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{b.serverPair(t, testutil.Localhost())}})
	dir := filepath.Join(t.TempDir(), "saved")
	for _, s := range []struct {
		addr string
		root string
	}{{addrA, a.rootFile}, {addrB, b.rootFile}, {addrA, a.rootFile}} {
		rep := run(t, Options{Address: s.addr, ServerName: "localhost", CAFile: s.root, SaveDir: dir})
		expect(t, rep, VerdictOK)
	}
	checkSaved(t, addrA, dir)
	checkSaved(t, addrB, dir)
	var pems []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".pem") {
			pems = append(pems, e.Name())
		}
	}
	if len(pems) != 4 {
		t.Errorf("files %q, want two roots and two intermediates", pems)
	}
}

// TestSaveRootFromAIA: the trust has nothing for the server's chain and
// the root is in no set certinit knows; the intermediate names its
// issuer's URL, served on 127.0.0.1 as DER and as PEM. --save fetches the
// root, keeps the chain and says that nothing vouches for the root.
func TestSaveRootFromAIA(t *testing.T) {
	withMozilla(t)
	for _, format := range []string{"der", "pem"} {
		t.Run(format, func(t *testing.T) {
			root := testutil.NewCA(t, "AIA Root "+format)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if format == "der" {
					w.Header().Set("Content-Type", "application/pkix-cert")
					w.Write(root.Cert.Raw)
					return
				}
				w.Write(testutil.CertPEM(root.Cert))
			}))
			t.Cleanup(srv.Close)
			url := srv.URL + "/root." + format
			interCert, interKey := root.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "AIA Intermediate " + format}, IsCA: true, CAIssuers: []string{url}})
			inter := &testutil.CA{Cert: interCert, Key: interKey}
			leaf, key := inter.Issue(t, testutil.Localhost())
			addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw, interCert.Raw}, PrivateKey: key}}})
			rep, _ := saveThenCapath(t, addr, Options{})
			expect(t, rep, VerdictUnknownAuthority, "as fetched from "+url, "nothing here verified", fingerprint(root.Cert))
		})
	}
}
