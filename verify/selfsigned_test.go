package verify

import (
	"bytes"
	"crypto/x509"
	"regexp"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// ocspHelperCA is the line of `openssl x509 -noout -purpose` that is
// X509_check_ca itself: the OCSP helper purpose asks nothing of a CA but
// check_ca ("Yes (WARNING code=N)" for a CA in a looser sense).
var ocspHelperCA = regexp.MustCompile(`(?m)^OCSP helper CA : (Yes|No)`)

// TestSelfSignedAndIsCAAgreeWithOpenSSL compares SelfSigned with what
// `openssl verify` makes of the certificate alone (error 18, "self-signed
// certificate", only for what OpenSSL calls self-signed), and IsCA with
// `openssl x509 -purpose`, certificate by certificate.
func TestSelfSignedAndIsCAAgreeWithOpenSSL(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	root := mk(t, spec{cn: "Self Root", ca: true}, nil)
	own, foreign := []byte{9, 9, 9, 9}, []byte{1, 2, 3, 4, 5, 6, 7, 8} // key identifiers
	certs := map[string]*issued{
		"root":                                   root,
		"self-signed leaf":                       mk(t, spec{cn: "self.example"}, nil),
		"self-signed, own key identifier":        mk(t, spec{cn: "Own AKID", ca: true, skid: own, akid: own}, nil),
		"CA named as its issuer, foreign AKID":   mk(t, spec{cn: "Foreign AKID CA", ca: true, skid: own, akid: foreign}, nil),
		"leaf named as its issuer, foreign AKID": mk(t, spec{cn: "foreign-akid.example", skid: own, akid: foreign}, nil),
		"leaf from a CA":                         mk(t, spec{cn: "leaf.example"}, root),
		"intermediate":                           mk(t, spec{cn: "Self Intermediate", ca: true}, root),
		"version 1 root":                         opensslCert(t, openssl, "V1 Self Root", nil),
		"version 1 certificate from a CA":        opensslCert(t, openssl, "V1 Leaf", root),
		"keyCertSign without basicConstraints":   mk(t, spec{cn: "No BC", noBC: true, ku: x509.KeyUsageCertSign}, root),
		"CA:TRUE, key usage without keyCertSign": mk(t, spec{cn: "No CertSign", ca: true, ku: x509.KeyUsageDigitalSignature}, nil),
	}
	// The look-alikes sign themselves and name themselves as issuer, but
	// their authority key identifier is not their subject key identifier:
	// a check of name and signature alone calls them self-signed, OpenSSL
	// does not.
	for _, name := range []string{"CA named as its issuer, foreign AKID", "leaf named as its issuer, foreign AKID"} {
		c := certs[name].cert
		if !bytes.Equal(c.AuthorityKeyId, foreign) || !bytes.Equal(c.SubjectKeyId, own) || !bytes.Equal(c.RawSubject, c.RawIssuer) ||
			c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
			t.Fatalf("%s: the fixture does not make the case", name)
		}
	}
	for name, c := range certs {
		t.Run(name, func(t *testing.T) {
			file := testutil.WriteFile(t, t.TempDir(), "c.pem", testutil.CertPEM(c.cert))
			alone := testutil.OpenSSLVerify(t, file, testutil.VerifyFiles{})
			if wantSS := alone.Code == int(DepthZeroSelfSignedCert); SelfSigned(c.cert) != wantSS {
				t.Errorf("SelfSigned = %v; openssl verify of it alone: %s", !wantSS, alone.Output)
			}
			m := ocspHelperCA.FindStringSubmatch(testutil.OpenSSL(t, "x509", "-noout", "-purpose", "-in", file))
			if m == nil {
				t.Fatal("openssl x509 -purpose printed no OCSP helper CA line")
			}
			if wantCA := m[1] == "Yes"; IsCA(c.cert) != wantCA {
				t.Errorf("IsCA = %v; openssl x509 -purpose: OCSP helper CA : %s", !wantCA, m[1])
			}
		})
	}
}
