package verify

import (
	"crypto/x509"
	"errors"
	"os/exec"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestDefaultTrust: with SSL_CERT_FILE and SSL_CERT_DIR set, DefaultTrust
// is the trust `openssl verify` uses when given no CA file or directory.
func TestDefaultTrust(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	root := mk(t, spec{cn: "Default Root", ca: true}, nil)
	inter := mk(t, spec{cn: "Default Intermediate", ca: true}, root)
	leaf := mk(t, spec{cn: "default.example"}, inter)
	other := mk(t, spec{cn: "Other Default Root", ca: true}, nil)
	dir := t.TempDir()
	leafFile := testutil.WriteFile(t, dir, "leaf.pem", testutil.CertPEM(leaf.cert))
	interFile := testutil.WriteFile(t, dir, "inter.pem", testutil.CertPEM(inter.cert))
	for _, tc := range []struct {
		name       string
		file, path []*x509.Certificate
	}{
		{"root in the file", []*x509.Certificate{root.cert}, []*x509.Certificate{other.cert}},
		{"root in the directory", []*x509.Certificate{other.cert}, []*x509.Certificate{root.cert}},
		{"root nowhere", []*x509.Certificate{other.cert}, []*x509.Certificate{other.cert}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSL_CERT_FILE", testutil.WriteFile(t, t.TempDir(), "bundle.pem", testutil.CertPEM(tc.file...)))
			t.Setenv("SSL_CERT_DIR", capathOf(t, openssl, tc.path))
			out, refErr := exec.Command(openssl, "verify", "-purpose", "sslserver", "-untrusted", interFile, leafFile).CombinedOutput()
			trust, err := DefaultTrust()
			if err != nil {
				t.Fatal(err)
			}
			_, err = Chain([]*x509.Certificate{leaf.cert, inter.cert}, trust, Options{Purpose: ServerAuth})
			var ve *Error
			if (refErr == nil) != (err == nil) || err != nil && !errors.As(err, &ve) {
				t.Errorf("openssl verify: %v\n%s\ncertinit: %v", refErr, out, err)
			}
		})
	}
}

// TestCapathOldLinks: a capath with only old-style (MD5) hash links, as
// `openssl rehash -old` makes them, trusts nothing: OpenSSL's lookup opens
// the links of the new hash only.
func TestCapathOldLinks(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	root := mk(t, spec{cn: "Old Links Root", ca: true}, nil)
	leaf := mk(t, spec{cn: "old-links.example"}, root)
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "root.pem", testutil.CertPEM(root.cert))
	for _, args := range [][]string{{"-old"}, {}} {
		if out, err := exec.Command(openssl, append(append([]string{"rehash"}, args...), dir)...).CombinedOutput(); err != nil {
			t.Fatalf("openssl rehash %v: %v\n%s", args, err, out)
		}
		leafFile := testutil.WriteFile(t, t.TempDir(), "leaf.pem", testutil.CertPEM(leaf.cert))
		ref := testutil.OpenSSLVerify(t, leafFile, testutil.VerifyFiles{CApath: dir})
		trust, err := LoadTrust("", dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Chain([]*x509.Certificate{leaf.cert}, trust, Options{})
		var ve *Error
		if ref.OK != (err == nil) || (!ref.OK && (!errors.As(err, &ve) || int(ve.Code) != ref.Code)) {
			t.Errorf("rehash %v: openssl verify says %v (%d), certinit: %v", args, ref.OK, ref.Code, err)
		}
	}
}
