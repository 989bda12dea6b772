package verify

import (
	"bytes"
	"crypto/x509"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestTrustFilesAgreeWithOpenSSL: the same bytes as a cafile and as the
// first hash link of a capath are read as OpenSSL reads each. A cafile
// with a block OpenSSL cannot read trusts nothing, while the capath lookup
// keeps what it read before that block; a DER file is neither; a gap in
// the numbering hides what follows it.
func TestTrustFilesAgreeWithOpenSSL(t *testing.T) {
	root := mk(t, spec{cn: "Trust Files Root", ca: true}, nil)
	leaf := mk(t, spec{cn: "trust-files.example"}, root)
	rootPEM := testutil.CertPEM(root.cert)
	corrupt := []byte("-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n")
	headers := []byte("-----BEGIN X509 CRL-----\nX-Note: kept\n\nMAA=\n-----END X509 CRL-----\n")
	work := t.TempDir()
	leafFile := testutil.WriteFile(t, work, "leaf.pem", testutil.CertPEM(leaf.cert))
	hash := testutil.SubjectHash(t, testutil.WriteFile(t, work, "root.pem", rootPEM))
	for _, tc := range []struct {
		name  string
		data  []byte
		first string // the link name in the capath: "0", or "1" for a gap
	}{
		{"PEM", rootPEM, "0"},
		{"the second block corrupt", append(bytes.Clone(rootPEM), corrupt...), "0"},
		{"headers on a CRL block after the root", append(bytes.Clone(rootPEM), headers...), "0"},
		{"DER", root.cert.Raw, "0"},
		{"after a gap", rootPEM, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cafile := testutil.WriteFile(t, t.TempDir(), "ca.pem", tc.data)
			testutil.WriteFile(t, dir, hash+"."+tc.first, tc.data)
			for _, mode := range []struct{ name, cafile, capath string }{
				{"CAfile", cafile, ""},
				{"CApath", "", dir},
			} {
				ref := testutil.OpenSSLVerify(t, leafFile, testutil.VerifyFiles{CAfile: mode.cafile, CApath: mode.capath})
				trust, err := LoadTrust(mode.cafile, mode.capath)
				if err == nil {
					_, err = Chain([]*x509.Certificate{leaf.cert}, trust, Options{})
				}
				if ref.OK != (err == nil) {
					t.Errorf("%s: openssl verify: %v %s; certinit: %v", mode.name, ref.OK, ref.Text, err)
				}
			}
		})
	}
}
