package verify

import (
	"crypto/x509"
	"fmt"
	"strings"
)

// Code is an OpenSSL verification error (X509_V_ERR_*), the number
// `openssl verify` prints as "error N at D depth lookup".
type Code int

// The codes Chain reports.
const (
	UnableToGetIssuerCert        Code = 2  // the top of the chain is a trusted CA whose issuer is not trusted
	UnableToDecodeIssuerKey      Code = 6  // the issuer's public key cannot be used
	CertSignatureFailure         Code = 7  // a signature does not verify
	CertNotYetValid              Code = 9  // notBefore is in the future
	CertHasExpired               Code = 10 // notAfter is in the past
	DepthZeroSelfSignedCert      Code = 18 // a self-signed certificate that is not trusted
	SelfSignedCertInChain        Code = 19 // the chain ends at a self-signed certificate that is not trusted
	UnableToGetIssuerCertLocally Code = 20 // the top of the chain is untrusted and its issuer is nowhere
	UnableToVerifyLeafSignature  Code = 21 // a one-certificate chain that is not self-issued
	CertChainTooLong             Code = 22 // more than 100 intermediates
	PathLengthExceeded           Code = 25 // a CA's pathLenConstraint is exceeded
	InvalidPurpose               Code = 26 // the key usages do not allow the purpose
	KeyUsageNoCertSign           Code = 32 // an issuer whose key usage lacks keyCertSign
	UnhandledCriticalExtension   Code = 34 // a critical extension OpenSSL does not know
	EEKeyTooSmall                Code = 66 // the leaf's key is weaker than the security level
	CAKeyTooSmall                Code = 67 // a CA's key is weaker than the security level
	CAMDTooWeak                  Code = 68 // a signature digest is weaker than the security level
	InvalidCA                    Code = 79 // an issuer that is not a CA (24 before OpenSSL 3)
)

// codeText is X509_verify_cert_error_string of OpenSSL 3.
var codeText = map[Code]string{
	UnableToGetIssuerCert:        "unable to get issuer certificate",
	UnableToDecodeIssuerKey:      "unable to decode issuer public key",
	CertSignatureFailure:         "certificate signature failure",
	CertNotYetValid:              "certificate is not yet valid",
	CertHasExpired:               "certificate has expired",
	DepthZeroSelfSignedCert:      "self-signed certificate",
	SelfSignedCertInChain:        "self-signed certificate in certificate chain",
	UnableToGetIssuerCertLocally: "unable to get local issuer certificate",
	UnableToVerifyLeafSignature:  "unable to verify the first certificate",
	CertChainTooLong:             "certificate chain too long",
	InvalidCA:                    "invalid CA certificate",
	PathLengthExceeded:           "path length constraint exceeded",
	InvalidPurpose:               "unsuitable certificate purpose",
	KeyUsageNoCertSign:           "key usage does not include certificate signing",
	UnhandledCriticalExtension:   "unhandled critical extension",
	EEKeyTooSmall:                "EE certificate key too weak",
	CAKeyTooSmall:                "CA certificate key too weak",
	CAMDTooWeak:                  "CA signature digest algorithm too weak",
}

// String returns OpenSSL's text for the code.
func (c Code) String() string {
	if s, ok := codeText[c]; ok {
		return s
	}
	return fmt.Sprintf("verification error %d", int(c))
}

// Error is a chain OpenSSL would refuse: the first error it meets.
type Error struct {
	Code  Code
	Depth int                 // position in Chain of the certificate at fault (0: the leaf)
	Cert  *x509.Certificate   // that certificate
	Chain []*x509.Certificate // the chain as built, leaf first
}

// MissingIssuer reports whether the chain stops at a certificate whose
// issuer is not trusted and not among the certificates given (codes 2 and
// 20): the fix is to trust that issuer.
func (e *Error) MissingIssuer() bool {
	return e.Code == UnableToGetIssuerCert || e.Code == UnableToGetIssuerCertLocally
}

// Error is one line: the certificate, OpenSSL's text, what it means and
// OpenSSL's numbers. For a missing issuer it names the issuer and where
// the certificate says it can be fetched (its AIA caIssuers URLs).
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Cert.Subject, e.Code)
	switch {
	case e.MissingIssuer():
		fmt.Fprintf(&b, ": its issuer %s is not trusted", e.Cert.Issuer)
		if len(e.Cert.IssuingCertificateURL) > 0 {
			fmt.Fprintf(&b, " (the certificate names it at %s)", strings.Join(e.Cert.IssuingCertificateURL, ", "))
		}
	case e.Code == SelfSignedCertInChain || e.Code == DepthZeroSelfSignedCert:
		b.WriteString(": the chain ends at this self-signed certificate, which is not trusted")
	}
	fmt.Fprintf(&b, " (OpenSSL error %d at depth %d)", int(e.Code), e.Depth)
	return b.String()
}
