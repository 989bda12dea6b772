package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/certinit/certinit/hashlink"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// This file derives from one certificate what OpenSSL's
// x509v3_cache_extensions derives (crypto/x509/v3_purp.c): the facts the
// chain builder and the checks ask about.

// cert is a certificate with the facts OpenSSL caches about it.
type cert struct {
	*x509.Certificate
	subject, issuer string // canonical names: equal strings are X509_NAME_cmp-equal

	selfIssued bool // subject and issuer are the same name (EXFLAG_SI)
	selfSigned bool // self-issued, own AKID matches, key fits the signature (EXFLAG_SS)

	hasKU  bool // a keyUsage extension is present (EXFLAG_KUSAGE)
	hasEKU bool // an extendedKeyUsage extension is present (EXFLAG_XKUSAGE)
	xku    xku
	hasNS  bool // a Netscape certificate type is present (EXFLAG_NSCERT)
	ns     byte
	// pathLen is the basicConstraints pathLenConstraint, -1 when absent.
	pathLen int
	// unknownCritical: a critical extension OpenSSL does not handle
	// (EXFLAG_CRITICAL).
	unknownCritical bool

	akid *akid // authority key identifier, nil when absent
}

// xku are the extended key usages OpenSSL tells apart (XKU_*).
type xku uint8

const (
	xkuServer xku = 1 << iota
	xkuClient
	xkuSGC // Netscape or Microsoft server gated crypto
	xkuAny
)

// Netscape certificate type bits (NS_*).
const (
	nsSSLClient = 0x80
	nsSSLServer = 0x40
	nsSSLCA     = 0x04
	nsAnyCA     = 0x07
)

// akid is an authority key identifier: the fields X509_check_akid compares.
type akid struct {
	keyID  []byte
	issuer string   // canonical directoryName, "" when absent
	serial *big.Int // nil when absent
}

var (
	oidKeyUsage   = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUse  = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidAuthKeyID  = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidNSCertType = asn1.ObjectIdentifier{2, 16, 840, 1, 113730, 1, 1}
)

// supportedCritical are the extensions OpenSSL's verifier handles when
// they are critical (X509_supported_extension); any other critical
// extension fails verification.
var supportedCritical = []asn1.ObjectIdentifier{
	oidNSCertType,
	oidKeyUsage,
	{2, 5, 29, 17}, // subjectAltName
	{2, 5, 29, 19}, // basicConstraints
	{2, 5, 29, 32}, // certificatePolicies
	{2, 5, 29, 31}, // cRLDistributionPoints
	oidExtKeyUse,
	{1, 3, 6, 1, 5, 5, 7, 1, 7},     // sbgp-ipAddrBlock
	{1, 3, 6, 1, 5, 5, 7, 1, 8},     // sbgp-autonomousSysNum
	{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}, // id-pkix-ocsp-nocheck
	{2, 5, 29, 36},                  // policyConstraints
	{1, 3, 6, 1, 5, 5, 7, 1, 14},    // proxyCertInfo
	{2, 5, 29, 30},                  // nameConstraints
	{2, 5, 29, 33},                  // policyMappings
	{2, 5, 29, 54},                  // inhibitAnyPolicy
}

// newCert derives the facts of c. A name OpenSSL cannot decode is an
// error: OpenSSL would not load the certificate at all.
func newCert(c *x509.Certificate) (*cert, error) {
	subject, err := hashlink.CanonicalName(c.RawSubject)
	if err != nil {
		return nil, fmt.Errorf("%s: subject: %w", c.Subject, err)
	}
	issuer, err := hashlink.CanonicalName(c.RawIssuer)
	if err != nil {
		return nil, fmt.Errorf("%s: issuer: %w", c.Subject, err)
	}
	x := &cert{Certificate: c, subject: string(subject), issuer: string(issuer), pathLen: -1}
	if c.BasicConstraintsValid && (c.MaxPathLen > 0 || c.MaxPathLenZero) {
		x.pathLen = c.MaxPathLen
	}
	for _, e := range c.Extensions {
		switch {
		case e.Id.Equal(oidKeyUsage):
			x.hasKU = true
		case e.Id.Equal(oidExtKeyUse):
			x.hasEKU = true
		case e.Id.Equal(oidNSCertType):
			var bits asn1.BitString
			if _, err := asn1.Unmarshal(e.Value, &bits); err == nil {
				x.hasNS = true
				if len(bits.Bytes) > 0 {
					x.ns = bits.Bytes[0]
				}
			}
		case e.Id.Equal(oidAuthKeyID):
			if x.akid, err = parseAKID(e.Value); err != nil {
				return nil, fmt.Errorf("%s: authority key identifier: %w", c.Subject, err)
			}
		}
		if e.Critical && !supported(e.Id) {
			x.unknownCritical = true
		}
	}
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			x.xku |= xkuServer
		case x509.ExtKeyUsageClientAuth:
			x.xku |= xkuClient
		case x509.ExtKeyUsageNetscapeServerGatedCrypto, x509.ExtKeyUsageMicrosoftServerGatedCrypto:
			x.xku |= xkuSGC
		case x509.ExtKeyUsageAny:
			x.xku |= xkuAny
		}
	}
	x.selfIssued = x.subject == x.issuer
	x.selfSigned = x.selfIssued && akidMatches(x, x.akid) && sigAlgMatches(x, x)
	return x, nil
}

// SelfSigned is OpenSSL's "self-signed" (EXFLAG_SS): subject and issuer
// are the same name, the authority key identifier, when there is one,
// matches the certificate itself, and its key is of the type its signature
// algorithm needs. The signature is not checked, as OpenSSL does not check
// it for this. Only a self-signed certificate can end a trusted chain; one
// whose issuer is its own name but whose key identifier names another key
// is issued by that other key, and OpenSSL looks for it. A certificate
// whose names OpenSSL cannot decode is not self-signed.
func SelfSigned(c *x509.Certificate) bool {
	x, err := newCert(c)
	return err == nil && x.selfSigned
}

// IsCA is OpenSSL's X509_check_ca: whether c is a CA certificate in any of
// the senses OpenSSL accepts (checkCA): basicConstraints CA:TRUE, a
// self-signed version 1 certificate, a key usage with keyCertSign and no
// basicConstraints, or a Netscape CA type; never when a key usage without
// keyCertSign forbids it. A certificate whose names OpenSSL cannot decode
// is not a CA.
func IsCA(c *x509.Certificate) bool {
	x, err := newCert(c)
	return err == nil && x.checkCA() != 0
}

func supported(id asn1.ObjectIdentifier) bool {
	for _, s := range supportedCritical {
		if id.Equal(s) {
			return true
		}
	}
	return false
}

// parseAKID reads AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0],
// authorityCertIssuer [1] GeneralNames, authorityCertSerialNumber [2] }.
// Of the issuer names only the first directoryName counts, as in OpenSSL.
func parseAKID(der []byte) (*akid, error) {
	in := cryptobyte.String(der)
	var seq, keyID, names, serial cryptobyte.String
	var hasKeyID, hasNames, hasSerial bool
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) ||
		!seq.ReadOptionalASN1(&keyID, &hasKeyID, cbasn1.Tag(0).ContextSpecific()) ||
		!seq.ReadOptionalASN1(&names, &hasNames, cbasn1.Tag(1).ContextSpecific().Constructed()) ||
		!seq.ReadOptionalASN1(&serial, &hasSerial, cbasn1.Tag(2).ContextSpecific()) {
		return nil, fmt.Errorf("malformed")
	}
	a := &akid{}
	if hasKeyID {
		a.keyID = keyID
	}
	for hasNames && !names.Empty() {
		var name cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&name, &tag) {
			return nil, fmt.Errorf("malformed issuer names")
		}
		if tag == cbasn1.Tag(4).ContextSpecific().Constructed() {
			canon, err := hashlink.CanonicalName(name)
			if err != nil {
				return nil, err
			}
			a.issuer = string(canon)
			break
		}
	}
	if hasSerial {
		a.serial = twosComplement(serial)
	}
	return a, nil
}

// twosComplement reads the content octets of an INTEGER.
func twosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return n
}

// akidMatches is X509_check_akid: each field the identifier holds must
// match the issuer candidate (a missing key identifier on either side is
// no mismatch).
func akidMatches(issuer *cert, a *akid) bool {
	switch {
	case a == nil:
		return true
	case a.keyID != nil && issuer.SubjectKeyId != nil && !bytes.Equal(a.keyID, issuer.SubjectKeyId):
		return false
	case a.serial != nil && a.serial.Cmp(issuer.SerialNumber) != 0:
		return false
	case a.issuer != "" && a.issuer != issuer.issuer:
		return false
	}
	return true
}

// sigAlgMatches is check_sig_alg_match: the issuer's key type is the one
// the subject's signature algorithm needs (an RSA key also signs RSA-PSS).
func sigAlgMatches(issuer, subject *cert) bool {
	want := x509.UnknownPublicKeyAlgorithm
	switch subject.SignatureAlgorithm {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.SHA256WithRSA, x509.SHA384WithRSA,
		x509.SHA512WithRSA, x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		want = x509.RSA
	case x509.DSAWithSHA1, x509.DSAWithSHA256:
		want = x509.DSA
	case x509.ECDSAWithSHA1, x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
		want = x509.ECDSA
	case x509.PureEd25519:
		want = x509.Ed25519
	}
	return want != x509.UnknownPublicKeyAlgorithm && issuer.PublicKeyAlgorithm == want
}

// likelyIssued is OpenSSL's check_issued (x509_likely_issued): names,
// authority key identifier and key type agree. It does not check the
// signature; that comes last, on the chain as built.
func likelyIssued(issuer, subject *cert) bool {
	return issuer.subject == subject.issuer && akidMatches(issuer, subject.akid) && sigAlgMatches(issuer, subject)
}

// kuReject is OpenSSL's ku_reject: a key usage extension that allows none
// of usage.
func (x *cert) kuReject(usage x509.KeyUsage) bool { return x.hasKU && x.KeyUsage&usage == 0 }

// xkuReject is xku_reject: an extended key usage extension that allows
// none of usage. anyExtendedKeyUsage is a usage of its own here: it does
// not stand in for serverAuth or clientAuth.
func (x *cert) xkuReject(usage xku) bool { return x.hasEKU && x.xku&usage == 0 }

// nsReject is ns_reject for the Netscape certificate type.
func (x *cert) nsReject(usage byte) bool { return x.hasNS && x.ns&usage == 0 }

// checkCA is OpenSSL's check_ca: 0 not a CA; 1 a CA by basicConstraints;
// 3 a self-signed version 1 certificate; 4 no basicConstraints but a key
// usage with keyCertSign; 5 a Netscape CA type.
func (x *cert) checkCA() int {
	switch {
	case x.kuReject(x509.KeyUsageCertSign):
		return 0
	case x.BasicConstraintsValid:
		if x.IsCA {
			return 1
		}
		return 0
	case x.Version == 1 && x.selfSigned:
		return 3
	case x.hasKU:
		return 4
	case x.hasNS && x.ns&nsAnyCA != 0:
		return 5
	}
	return 0
}
