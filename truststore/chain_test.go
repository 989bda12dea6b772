package truststore

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/verify"
)

// publicChain is a Let's Encrypt-like chain: a root, an intermediate that
// names the root's URL (AIA caIssuers), a server certificate.
type publicChain struct {
	root, inter *testutil.CA
	leaf        *x509.Certificate
	interFile   string // the intermediate alone: certbot's chain.pem
	leafFile    string
}

func newPublicChain(t *testing.T, name string) *publicChain {
	t.Helper()
	in := t.TempDir()
	root := testutil.NewCA(t, name+" Root X1")
	c, k := root.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: name + " R3"}, IsCA: true,
		CAIssuers: []string{"http://x1.i." + strings.ToLower(name) + ".example/"}})
	inter := &testutil.CA{Cert: c, Key: k}
	leaf, _ := inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "broker.example"}, DNSNames: []string{"broker.example"}})
	return &publicChain{
		root: root, inter: inter, leaf: leaf,
		interFile: testutil.WriteFile(t, in, "chain.pem", testutil.CertPEM(inter.Cert)),
		leafFile:  testutil.WriteFile(t, in, "cert.pem", testutil.CertPEM(leaf)),
	}
}

// withMozilla stands roots in for the Mozilla set for the rest of the test.
func withMozilla(t *testing.T, roots ...*x509.Certificate) {
	t.Helper()
	old := mozillaSet
	mozillaSet = func(*slog.Logger) ([]*x509.Certificate, error) { return roots, nil }
	t.Cleanup(func() { mozillaSet = old })
}

// agree checks that certinit's verdict on the server certificate (sent
// with its intermediate, as a server sends fullchain.pem), against the
// store's bundle as a cafile, is OpenSSL's: ok, or the same error. It returns
// OpenSSL's verdict.
func agree(t *testing.T, s *Store, pc *publicChain) testutil.OpenSSLVerdict {
	t.Helper()
	if _, err := os.Stat(s.BundlePath()); err != nil {
		return testutil.OpenSSLVerdict{Output: err.Error()} // nothing installed: nothing trusted
	}
	ref := testutil.OpenSSLVerify(t, pc.leafFile, testutil.VerifyFiles{CAfile: s.BundlePath(), Untrusted: pc.interFile, Purpose: "sslserver"})
	trust, err := verify.LoadTrust(s.BundlePath(), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = verify.Chain([]*x509.Certificate{pc.leaf, pc.inter.Cert}, trust, verify.Options{Purpose: verify.ServerAuth})
	var ve *verify.Error
	switch {
	case ref.OK && err != nil:
		t.Errorf("openssl verify accepts the leaf, certinit: %v", err)
	case !ref.OK && (!errors.As(err, &ve) || int(ve.Code) != ref.Code):
		t.Errorf("openssl verify: error %d (%s), certinit: %v", ref.Code, ref.Text, err)
	}
	return ref
}

// TestIntermediateAloneRefused: certbot's chain.pem (the intermediate only)
// is refused with one line naming the missing root and its URL, and the
// store does not change; --allow-partial-chain installs it, and OpenSSL
// then refuses the server certificate exactly as certinit warned.
func TestIntermediateAloneRefused(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	pc := newPublicChain(t, "Private")
	withMozilla(t, testutil.NewCA(t, "Unrelated Public Root").Cert)
	for _, spec := range []string{"debian", "rhel", "dir:/capath"} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			s := openStore(t, root, spec)
			before := testutil.TreeDigest(t, root, false)
			_, err := s.Install(context.Background(), []string{pc.interFile}, InstallOptions{})
			if !errors.Is(err, ErrPartialChain) {
				t.Fatalf("install of the intermediate alone: %v, want ErrPartialChain", err)
			}
			for _, want := range []string{pc.interFile, pc.root.Cert.Subject.String(), pc.inter.Cert.IssuingCertificateURL[0], "--allow-partial-chain"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not name %s: %v", want, err)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if after := testutil.TreeDigest(t, root, false); after != before {
				t.Errorf("a refused install changed the store")
			}

			logs, log := testutil.NewLogs(t)
			s, err = Open(root, spec, log)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := s.Install(context.Background(), []string{pc.interFile}, InstallOptions{AllowPartialChain: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Partial) != 1 || rep.Partial[0].MissingIssuer != pc.root.Cert.Subject.String() ||
				len(rep.Partial[0].IssuerURLs) != 1 || len(rep.Added) != 1 {
				t.Errorf("report: %d added, partial %+v", len(rep.Added), rep.Partial)
			}
			if len(logs.Matching(testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.HasAttr("path", pc.interFile),
				testutil.HasAttr("missing_issuer", pc.root.Cert.Subject.String())))) != 1 {
				t.Errorf("no warning naming the file and the missing issuer")
			}
			if ref := agree(t, s, pc); ref.OK || ref.Code != int(verify.UnableToGetIssuerCert) {
				t.Errorf("openssl verify with the intermediate alone: %+v, want error 2", ref)
			}

			rootFile := testutil.WriteFile(t, t.TempDir(), "root.pem", testutil.CertPEM(pc.root.Cert))
			install(t, s, rootFile)
			if ref := agree(t, s, pc); !ref.OK {
				t.Errorf("openssl verify with the root installed: %s", ref.Output)
			}
			checkConsistent(t, s)
		})
	}
}

// TestMozillaRootCompletesChain: an intermediate whose root is in the
// Mozilla set (a stand-in here) is installed with that root beside it; the
// report says so, OpenSSL accepts the server certificate, and on Debian
// update-ca-certificates afterwards changes nothing.
func TestMozillaRootCompletesChain(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	pc := newPublicChain(t, "Public")
	withMozilla(t, testutil.NewCA(t, "Another Public Root").Cert, pc.root.Cert)
	for _, spec := range []string{"debian", "rhel", "arch", "dir:/capath"} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			if spec == "debian" {
				root = stockDebianRoot(t) // a real Debian store, for update-ca-certificates
			}
			s := openStore(t, root, spec)
			if ref := agree(t, s, pc); ref.OK {
				t.Fatal("the leaf verifies before anything is installed")
			}
			rep := install(t, s, pc.interFile)
			if len(rep.Completed) != 1 || !rep.Completed[0].Root.cert.Equal(pc.root.Cert) || rep.Completed[0].For.Subject != pc.inter.Cert.Subject.String() {
				t.Fatalf("completed: %+v", rep.Completed)
			}
			if len(rep.Added) != 2 {
				t.Errorf("%d added, want the intermediate and its root", len(rep.Added))
			}
			if ref := agree(t, s, pc); !ref.OK {
				t.Errorf("openssl verify after the install: %s", ref.Output)
			}
			checkConsistent(t, s)
			if spec == "debian" {
				toolAgrees(t, root)
			}
			if rep := install(t, s, pc.interFile); len(rep.Completed)+len(rep.Added) != 0 {
				t.Errorf("second install: %d added, %d completed", len(rep.Added), len(rep.Completed))
			}
		})
	}
}

// TestMozillaRootDisabled: a root the store's configuration disables is
// not brought back through the Mozilla set: the intermediate is refused,
// and the error says what disables the root.
func TestMozillaRootDisabled(t *testing.T) {
	pc := newPublicChain(t, "Distrusted")
	withMozilla(t, pc.root.Cert)
	rootPEM := testutil.CertPEM(pc.root.Cert)
	crt := "mozilla/Distrusted_Root_X1.crt"
	tests := []struct {
		name, spec string
		files      map[string][]byte // in-root path -> content
		want       string
	}{
		{"debian deselected", "debian", map[string][]byte{
			"usr/share/ca-certificates/" + crt: rootPEM,
			"etc/ca-certificates.conf":         []byte("!" + crt + "\n"),
		}, "!" + crt},
		{"debian deselected, file gone", "debian", map[string][]byte{
			"usr/share/ca-certificates/other/keep.crt": testutil.CertPEM(testutil.NewCA(t, "Kept").Cert),
			"etc/ca-certificates.conf":                 []byte("other/keep.crt\n!" + crt + "\n"),
		}, "!" + crt},
		{"rhel blocklist", "rhel", map[string][]byte{
			"etc/pki/ca-trust/source/blocklist/distrusted.pem": rootPEM,
		}, "blocklist"},
		{"suse blacklist", "suse", map[string][]byte{
			"etc/pki/trust/blacklist/distrusted.pem": rootPEM,
		}, "blocklist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, data := range tc.files {
				testutil.WriteFile(t, filepath.Join(root, filepath.Dir(p)), filepath.Base(p), data)
			}
			s := openStore(t, root, tc.spec)
			before := testutil.TreeDigest(t, root, false)
			_, err := s.Install(context.Background(), []string{pc.interFile}, InstallOptions{})
			if !errors.Is(err, ErrPartialChain) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Mozilla") {
				t.Fatalf("install: %v, want a partial chain naming %q", err, tc.want)
			}
			if after := testutil.TreeDigest(t, root, false); after != before {
				t.Error("a refused install changed the store")
			}
		})
	}
}

// TestLeafAdviceLeadsToWorkingTrust: the refusal of a server certificate
// points at the root; following it (the root, or chain.pem with the root
// in the Mozilla set) gives a store OpenSSL verifies the server against.
func TestLeafAdviceLeadsToWorkingTrust(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	pc := newPublicChain(t, "Advice")
	_, err := openStore(t, t.TempDir(), "dir:/capath").Install(context.Background(), []string{pc.leafFile}, InstallOptions{})
	if !errors.Is(err, errNotCA) || !strings.Contains(err.Error(), "root") || strings.Contains(err.Error(), "chain.pem, not cert.pem") {
		t.Fatalf("leaf refused with %v", err)
	}
	withMozilla(t, pc.root.Cert)
	rootFile := testutil.WriteFile(t, t.TempDir(), "root.pem", testutil.CertPEM(pc.root.Cert))
	for _, files := range [][]string{{rootFile}, {pc.interFile}} {
		s := openStore(t, t.TempDir(), "dir:/capath")
		install(t, s, files...)
		if ref := agree(t, s, pc); !ref.OK {
			t.Errorf("after installing %v: %s", files, ref.Output)
		}
	}
}
