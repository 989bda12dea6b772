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
