package verify

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// loadReason is OpenSSL's reason for each refusal of CheckLoad, as
// Mosquitto logs it when it cannot load its certificate file.
var loadReason = map[Code]string{
	EEKeyTooSmall: "ee key too small",
	CAKeyTooSmall: "ca key too small",
	CAMDTooWeak:   "ca md too weak",
}

// TestCheckLoadAgreesWithMosquitto starts Mosquitto (Debian's, OpenSSL at
// security level 2) on each certificate file: CheckLoad at
// MosquittoSecurityLevel must refuse exactly the files Mosquitto cannot
// load, for the reason OpenSSL gives.
func TestCheckLoadAgreesWithMosquitto(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	root := mk(t, spec{cn: "Load Root", ca: true, key: rsaKey(t, 2048)}, nil)
	weakInter := mk(t, spec{cn: "RSA-1024 Intermediate", ca: true, key: rsaKey(t, 1024)}, root)
	sha1Inter := opensslCert(t, openssl, "SHA-1 Intermediate", root, "-sha1")
	sha1Root := opensslCert(t, openssl, "SHA-1 Root", nil, "-sha1")
	leaf := func(cn string, parent *issued, bits int) *issued {
		return mk(t, spec{cn: cn, key: rsaKey(t, bits)}, parent)
	}
	file := func(c ...*issued) []*issued { return c }
	tests := []struct {
		name  string
		certs []*issued // the certificate file, leaf first; the key is the leaf's
	}{
		{"RSA 2048 SHA-256 leaf from a CA", file(leaf("rsa-2048", root, 2048))},
		{"P-256 leaf from a CA", file(mk(t, spec{cn: "p-256"}, root))},
		{"RSA 1024 self-signed leaf", file(leaf("rsa-1024", nil, 1024))},
		{"RSA 1024 leaf from a CA", file(leaf("rsa-1024", root, 1024))},
		{"SHA-1 leaf from a CA", file(opensslCert(t, openssl, "sha1.example", root, "-sha1"))},
		{"SHA-1 self-signed leaf", file(opensslCert(t, openssl, "sha1-self.example", nil, "-sha1"))},
		{"RSA 1024 intermediate in the file", file(leaf("under-weak", weakInter, 2048), weakInter)},
		{"SHA-1 intermediate in the file", file(leaf("under-sha1", sha1Inter, 2048), sha1Inter)},
		{"SHA-1 self-signed root in the file", file(leaf("under-sha1-root", sha1Root, 2048), sha1Root)},
		{"RSA 2048 intermediate and root in the file", file(leaf("full", root, 2048), root)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var certs []*x509.Certificate
			for _, c := range tc.certs {
				certs = append(certs, c.cert)
			}
			certFile := testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(certs...))
			keyFile := testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, tc.certs[0].key))
			conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\nallow_anonymous true\n",
				testutil.FreePort(t), certFile, keyFile)
			b, started := mosquittotest.Run(t, t.TempDir(), conf)
			err := CheckLoad(certs, MosquittoSecurityLevel)
			if started {
				if err != nil {
					t.Fatalf("Mosquitto loads it, CheckLoad: %v", err)
				}
				return
			}
			if !strings.Contains(b.Log(), "Unable to load server certificate") {
				t.Fatalf("Mosquitto did not start for another reason:\n%s", b.Log())
			}
			ve, ok := err.(*Error)
			if !ok {
				t.Fatalf("Mosquitto cannot load it, CheckLoad: %v\n%s", err, b.Log())
			}
			if !strings.Contains(b.Log(), loadReason[ve.Code]) || ve.Cert != certs[ve.Depth] {
				t.Fatalf("CheckLoad: %v (certificate %d), Mosquitto:\n%s", ve, ve.Depth, b.Log())
			}
		})
	}
}
