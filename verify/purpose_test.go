package verify

import (
	"crypto/x509"
	"regexp"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// purposeLine is a line of `openssl x509 -noout -purpose`: "SSL client CA :
// Yes", or "Yes (WARNING code=N)" for a CA OpenSSL accepts in a looser
// sense (a version 1 root, a key usage without basicConstraints).
var purposeLine = regexp.MustCompile(`(?m)^(SSL (?:client|server)(?: CA)?) : (Yes|No)`)

// TestAllowsAgreesWithOpenSSL compares Allows with `openssl x509 -purpose`
// for TLS client and server, as a leaf and as a CA, certificate by
// certificate.
func TestAllowsAgreesWithOpenSSL(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	root := mk(t, spec{cn: "Purpose Root", ca: true}, nil)
	certs := map[string]*issued{
		"root":                        root,
		"server and client":           mk(t, spec{cn: "both"}, root),
		"server only (Let's Encrypt)": mk(t, spec{cn: "server-only", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, root),
		"client only":                 mk(t, spec{cn: "client-only", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, root),
		"no extended key usage":       mk(t, spec{cn: "no-eku", noEKU: true}, root),
		"any extended key usage":      mk(t, spec{cn: "any", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}, root),
		"code signing":                mk(t, spec{cn: "code", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}, root),
		"key encipherment only":       mk(t, spec{cn: "kex", ku: x509.KeyUsageKeyEncipherment}, root),
		"CA for servers":              mk(t, spec{cn: "Server CA", ca: true, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, root),
		"CA without basicConstraints": mk(t, spec{cn: "No BC", noBC: true, ku: x509.KeyUsageCertSign}, root),
		"version 1 root":              opensslCert(t, openssl, "V1 Purpose Root", nil),
	}
	purposes := map[string]struct {
		p    Purpose
		asCA bool
	}{
		"SSL client": {ClientAuth, false}, "SSL client CA": {ClientAuth, true},
		"SSL server": {ServerAuth, false}, "SSL server CA": {ServerAuth, true},
	}
	for name, c := range certs {
		t.Run(name, func(t *testing.T) {
			file := testutil.WriteFile(t, t.TempDir(), "c.pem", testutil.CertPEM(c.cert))
			out := testutil.OpenSSL(t, "x509", "-noout", "-purpose", "-in", file)
			lines := purposeLine.FindAllStringSubmatch(out, -1)
			if len(lines) != len(purposes) {
				t.Fatalf("openssl x509 -purpose printed %d TLS lines:\n%s", len(lines), out)
			}
			for _, m := range lines {
				pp := purposes[m[1]]
				got, err := Allows(c.cert, pp.p, pp.asCA)
				if err != nil {
					t.Fatal(err)
				}
				if want := m[2] == "Yes"; got != want {
					t.Errorf("%s: Allows = %v, openssl says %s", m[1], got, m[2])
				}
			}
		})
	}
}
