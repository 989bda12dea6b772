package verify

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// vcase is one row of TestAgreesWithOpenSSL: a leaf, what came with it,
// the trust set, and the error OpenSSL is expected to report (0: none).
// The expectation documents what the row is for; the verdict certinit
// must match is the one openssl verify gives on the same files.
type vcase struct {
	name      string
	leaf      *issued
	untrusted []*issued
	trust     []*issued
	purpose   Purpose
	level     int
	want      Code
}

// TestAgreesWithOpenSSL compares Chain with `openssl verify -purpose ...
// [-auth_level N]` case by case, with the trust set given once as a
// cafile and once as a capath made by openssl rehash: same verdict, same
// error code and depth, same text.
func TestAgreesWithOpenSSL(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	past, future := time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)
	root := mk(t, spec{cn: "Root A", ca: true}, nil)
	inter := mk(t, spec{cn: "Intermediate A", ca: true}, root)
	leaf := mk(t, spec{cn: "broker.example"}, inter)
	other := mk(t, spec{cn: "Unrelated Root", ca: true}, nil)

	// Purposes and key usages.
	clientOnly := mk(t, spec{cn: "client-only", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, inter)
	serverOnly := mk(t, spec{cn: "server-only", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, inter)
	anyEKU := mk(t, spec{cn: "any-eku", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}, inter)
	noEKU := mk(t, spec{cn: "no-eku", noEKU: true}, inter)
	signOnly := mk(t, spec{cn: "cert-sign-only", ku: x509.KeyUsageCertSign}, inter)
	interClient := mk(t, spec{cn: "Client Intermediate", ca: true, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, root)
	leafUnderClientCA := mk(t, spec{cn: "under-client-ca"}, interClient)
	rootClient := mk(t, spec{cn: "Client Root", ca: true, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, nil)
	interUnderClientRoot := mk(t, spec{cn: "Intermediate Under Client Root", ca: true}, rootClient)
	leafUnderClientRoot := mk(t, spec{cn: "under-client-root"}, interUnderClientRoot)
	rootNoDigSig := mk(t, spec{cn: "Root Without digitalSignature", ca: true, ku: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil)

	// CA flags and path length.
	notCA := mk(t, spec{cn: "Not A CA", ku: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, root)
	leafUnderNotCA := mk(t, spec{cn: "under-not-ca"}, notCA)
	noBC := mk(t, spec{cn: "No BasicConstraints", noBC: true, ku: x509.KeyUsageCertSign}, root)
	leafUnderNoBC := mk(t, spec{cn: "under-no-bc"}, noBC)
	interPL0 := mk(t, spec{cn: "Intermediate pathlen 0", ca: true, pathLen: intp(0)}, root)
	interBelowPL0 := mk(t, spec{cn: "Intermediate below pathlen 0", ca: true}, interPL0)
	leafDeep := mk(t, spec{cn: "deep"}, interBelowPL0)
	interCritical := mk(t, spec{cn: "Intermediate with unknown critical", ca: true, extra: []pkix.Extension{unknownCritical}}, root)
	leafUnderCritical := mk(t, spec{cn: "under-critical"}, interCritical)

	// Validity.
	expiredLeaf := mk(t, spec{cn: "expired", notBefore: past.Add(-time.Hour), notAfter: past}, inter)
	futureLeaf := mk(t, spec{cn: "not-yet", notBefore: future}, inter)
	expiredInter := mk(t, spec{cn: "Expired Intermediate", ca: true, notBefore: past.Add(-time.Hour), notAfter: past}, root)
	leafUnderExpired := mk(t, spec{cn: "under-expired"}, expiredInter)
	expiredRoot := mk(t, spec{cn: "Expired Root", ca: true, notBefore: past.Add(-time.Hour), notAfter: past}, nil)
	interUnderExpiredRoot := mk(t, spec{cn: "Intermediate Under Expired Root", ca: true}, expiredRoot)
	leafUnderExpiredRoot := mk(t, spec{cn: "under-expired-root"}, interUnderExpiredRoot)

	// The same root twice, expired and renewed (same name, same key): the
	// valid one is chosen, as with Let's Encrypt's old DST cross-sign.
	dupName := pkix.Name{CommonName: "Renewed Root", Organization: []string{"verify test"}}
	dupOld := mk(t, spec{subject: &dupName, ca: true, notBefore: past.Add(-time.Hour), notAfter: past}, nil)
	dupNew := mk(t, spec{subject: &dupName, ca: true, key: dupOld.key}, nil)
	interDup := mk(t, spec{cn: "Intermediate Under Renewed Root", ca: true}, dupNew)
	leafDup := mk(t, spec{cn: "under-renewed"}, interDup)

	// Cross-signing: Root C2 also exists as a certificate issued by Root C1.
	rootC1 := mk(t, spec{cn: "Root C1", ca: true}, nil)
	rootC2 := mk(t, spec{cn: "Root C2", ca: true}, nil)
	cross := mk(t, spec{cn: "Root C2", ca: true, key: rootC2.key}, rootC1)
	interC := mk(t, spec{cn: "Intermediate C", ca: true}, rootC2)
	leafC := mk(t, spec{cn: "cross.example"}, interC)

	// Self-signed leaves and look-alikes.
	selfLeaf := mk(t, spec{cn: "self-signed.example"}, nil)
	mimic := mk(t, spec{cn: "Root A", ca: true}, nil)

	// A leaf signed by another key than the intermediate's, though names
	// and key identifiers say otherwise.
	fakeInter := mk(t, spec{cn: "Intermediate A", ca: true, skid: inter.cert.SubjectKeyId}, root)
	forged := mk(t, spec{cn: "forged.example"}, fakeInter)

	// Key and digest strength (security levels).
	rsa1024 := rsaKey(t, 1024)
	weakLeaf := mk(t, spec{cn: "rsa-1024", key: rsa1024}, inter)
	weakInter := mk(t, spec{cn: "RSA-1024 Intermediate", ca: true, key: rsa1024}, root)
	leafUnderWeak := mk(t, spec{cn: "under-weak"}, weakInter)
	sha1Leaf := opensslCert(t, openssl, "sha1.example", inter, "-sha1")
	v1Root := opensslCert(t, openssl, "V1 Root", nil)
	leafUnderV1 := mk(t, spec{cn: "under-v1"}, v1Root)
	v1Inter := opensslCert(t, openssl, "V1 Intermediate", root)
	leafUnderV1Inter := mk(t, spec{cn: "under-v1-inter"}, v1Inter)

	chain := func(c ...*issued) []*issued { return c }
	tests := []vcase{
		{"root trusted, intermediate sent", leaf, chain(inter), chain(root), ServerAuth, 0, 0},
		{"root and intermediate trusted, leaf alone", leaf, nil, chain(root, inter), ServerAuth, 0, 0},
		{"intermediate only trusted, sent too", leaf, chain(inter), chain(inter), ServerAuth, 0, UnableToGetIssuerCert},
		{"intermediate only trusted, leaf alone", leaf, nil, chain(inter), ServerAuth, 0, UnableToGetIssuerCert},
		{"root trusted, intermediate not sent", leaf, nil, chain(root), ServerAuth, 0, UnableToGetIssuerCertLocally},
		{"unrelated root, whole chain sent", leaf, chain(inter, root), chain(other), ServerAuth, 0, SelfSignedCertInChain},
		{"self-signed leaf, not trusted", selfLeaf, nil, chain(other), ServerAuth, 0, DepthZeroSelfSignedCert},
		{"self-signed leaf, trusted", selfLeaf, nil, chain(selfLeaf), ServerAuth, 0, 0},
		{"look-alike of a trusted root", mimic, nil, chain(root), ServerAuth, 0, DepthZeroSelfSignedCert},
		{"root as leaf, server", root, nil, chain(root), ServerAuth, 0, 0},
		{"root without digitalSignature as leaf", rootNoDigSig, nil, chain(rootNoDigSig), ServerAuth, 0, InvalidPurpose},
		{"expired leaf", expiredLeaf, chain(inter), chain(root), ServerAuth, 0, CertHasExpired},
		{"leaf not yet valid", futureLeaf, chain(inter), chain(root), ServerAuth, 0, CertNotYetValid},
		{"expired intermediate", leafUnderExpired, chain(expiredInter), chain(root), ServerAuth, 0, CertHasExpired},
		{"expired root", leafUnderExpiredRoot, chain(interUnderExpiredRoot), chain(expiredRoot), ServerAuth, 0, CertHasExpired},
		{"expired and renewed root, both trusted", leafDup, chain(interDup), chain(dupOld, dupNew), ServerAuth, 0, 0},
		{"expired root trusted, renewed one sent", leafDup, chain(interDup, dupNew), chain(dupOld), ServerAuth, 0, CertHasExpired},
		{"client certificate as a server", clientOnly, chain(inter), chain(root), ServerAuth, 0, InvalidPurpose},
		{"client certificate as a client", clientOnly, chain(inter), chain(root), ClientAuth, 0, 0},
		{"server certificate as a client", serverOnly, chain(inter), chain(root), ClientAuth, 0, InvalidPurpose},
		{"any purpose only, as a server", anyEKU, chain(inter), chain(root), ServerAuth, 0, InvalidPurpose},
		{"no extended key usage, as a client", noEKU, chain(inter), chain(root), ClientAuth, 0, 0},
		{"key usage keyCertSign only, as a server", signOnly, chain(inter), chain(root), ServerAuth, 0, InvalidPurpose},
		{"wrong purpose checked: none asked", clientOnly, chain(inter), chain(root), AnyPurpose, 0, 0},
		{"intermediate for clients only, as a server", leafUnderClientCA, chain(interClient), chain(root), ServerAuth, 0, InvalidPurpose},
		{"root for clients only, as a server", leafUnderClientRoot, chain(interUnderClientRoot), chain(rootClient), ServerAuth, 0, InvalidPurpose},
		{"root for clients only, as a client", leafUnderClientRoot, chain(interUnderClientRoot), chain(rootClient), ClientAuth, 0, 0},
		{"intermediate that is not a CA", leafUnderNotCA, chain(notCA), chain(root), ServerAuth, 0, InvalidCA},
		{"intermediate without basicConstraints", leafUnderNoBC, chain(noBC), chain(root), ServerAuth, 0, InvalidCA},
		{"path length exceeded", leafDeep, chain(interBelowPL0, interPL0), chain(root), ServerAuth, 0, PathLengthExceeded},
		{"unknown critical extension", leafUnderCritical, chain(interCritical), chain(root), ServerAuth, 0, UnhandledCriticalExtension},
		{"cross-signed, old root trusted", leafC, chain(interC, cross), chain(rootC1), ServerAuth, 0, 0},
		{"cross-signed, new root trusted", leafC, chain(interC, cross), chain(rootC2), ServerAuth, 0, 0},
		{"cross-signed, cross certificate not sent", leafC, chain(interC), chain(rootC1), ServerAuth, 0, UnableToGetIssuerCertLocally},
		{"signature does not verify", forged, chain(inter), chain(root), ServerAuth, 0, CertSignatureFailure},
		{"RSA 1024 leaf, level 1", weakLeaf, chain(inter), chain(root), ServerAuth, 1, 0},
		{"RSA 1024 leaf, level 2", weakLeaf, chain(inter), chain(root), ServerAuth, 2, EEKeyTooSmall},
		{"RSA 1024 intermediate, level 2", leafUnderWeak, chain(weakInter), chain(root), ServerAuth, 2, CAKeyTooSmall},
		{"SHA-1 signature, no level", sha1Leaf, chain(inter), chain(root), ServerAuth, 0, 0},
		{"SHA-1 signature, level 1", sha1Leaf, chain(inter), chain(root), ServerAuth, 1, CAMDTooWeak},
		{"version 1 root", leafUnderV1, nil, chain(v1Root), ServerAuth, 0, 0},
		{"version 1 intermediate", leafUnderV1Inter, chain(v1Inter), chain(root), ServerAuth, 0, InvalidCA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			leafFile := testutil.WriteFile(t, dir, "leaf.pem", testutil.CertPEM(tc.leaf.cert))
			var untrustedFile string
			certs := []*x509.Certificate{tc.leaf.cert}
			for _, u := range tc.untrusted {
				certs = append(certs, u.cert)
			}
			if len(tc.untrusted) > 0 {
				untrustedFile = testutil.WriteFile(t, dir, "untrusted.pem", testutil.CertPEM(certs[1:]...))
			}
			var trustCerts []*x509.Certificate
			for _, c := range tc.trust {
				trustCerts = append(trustCerts, c.cert)
			}
			cafile := testutil.WriteFile(t, dir, "trust.pem", testutil.CertPEM(trustCerts...))
			capath := capathOf(t, openssl, trustCerts)
			for _, mode := range []struct{ name, cafile, capath string }{
				{"CAfile", cafile, ""},
				{"CApath", "", capath},
			} {
				files := testutil.VerifyFiles{Untrusted: untrustedFile, CAfile: mode.cafile, CApath: mode.capath, AuthLevel: tc.level}
				if tc.purpose != AnyPurpose {
					files.Purpose = tc.purpose.String()
				}
				ref := testutil.OpenSSLVerify(t, leafFile, files)
				if ref.Code != int(tc.want) {
					t.Fatalf("%s: the fixture does not make the case: openssl says %d %q, the row expects %d\n%s",
						mode.name, ref.Code, ref.Text, tc.want, ref.Output)
				}
				trust, err := LoadTrust(mode.cafile, mode.capath)
				if err != nil {
					t.Fatal(err)
				}
				built, err := Chain(certs, trust, Options{Purpose: tc.purpose, SecurityLevel: tc.level})
				compare(t, mode.name, ref, built, err)
			}
		})
	}
}

// compare fails the test when certinit's verdict differs from OpenSSL's.
func compare(t *testing.T, mode string, ref testutil.OpenSSLVerdict, built []*x509.Certificate, err error) {
	t.Helper()
	if ref.OK {
		if err != nil {
			t.Errorf("%s: openssl says OK, certinit: %v", mode, err)
		}
		return
	}
	ve, ok := err.(*Error)
	if !ok {
		t.Errorf("%s: openssl says error %d at depth %d (%s), certinit: %v", mode, ref.Code, ref.Depth, ref.Text, err)
		return
	}
	if int(ve.Code) != ref.Code || ve.Depth != ref.Depth || ve.Code.String() != ref.Text {
		t.Errorf("%s: openssl: error %d at depth %d: %s\ncertinit: error %d at depth %d: %s\n%s",
			mode, ref.Code, ref.Depth, ref.Text, ve.Code, ve.Depth, ve.Code, ref.Output)
	}
	if ve.Cert != built[ve.Depth] || !strings.Contains(ve.Error(), ve.Cert.Subject.String()) {
		t.Errorf("%s: the error names %s, not the certificate at depth %d", mode, ve.Cert.Subject, ve.Depth)
	}
}
