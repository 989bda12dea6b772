package truststore

import (
	"bytes"
	"encoding/pem"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestInstallTrustedCertificate: OpenSSL's TRUSTED CERTIFICATE form (the
// certificate followed by its trust settings) installs as the certificate
// alone, and the store's hash link finds it.
func TestInstallTrustedCertificate(t *testing.T) {
	ca := testutil.NewCA(t, "Trusted Form CA")
	aux := []byte{0x30, 0x03, 0x02, 0x01, 0x05} // SEQUENCE { INTEGER 5 } after the certificate
	der := append(append([]byte{}, ca.Cert.Raw...), aux...)
	f := testutil.WriteFile(t, t.TempDir(), "trusted.pem", pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: der}))
	s := openStore(t, t.TempDir(), "dir:/capath")
	rep := install(t, s, f)
	if len(rep.Added) != 1 || rep.Added[0].Fingerprint != fingerprint(ca.Cert.Raw) {
		t.Fatalf("added %v, want the certificate without its trust settings", rep.Added)
	}
	if got := bundleCerts(t, s.BundlePath()); len(got) != 1 || !bytes.Equal(got[0].Raw, ca.Cert.Raw) {
		t.Fatalf("bundle holds %d certificates, want the one installed", len(got))
	}
	verifyCApath(t, s.root.host("/capath"), testutil.WriteFile(t, t.TempDir(), "ca.pem", testutil.CertPEM(ca.Cert)))
}
