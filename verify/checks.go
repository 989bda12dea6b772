package verify

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // OpenSSL still rates DSA keys; so must the verdict
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"math"
	"time"
)

// This file holds the checks OpenSSL's verify_chain makes once the chain
// is built, in its order: check_extensions (critical extensions, CA flags,
// purpose, path length), check_auth_level (key and digest strength), then
// internal_verify (signatures from the top down, and each certificate's
// validity period).

// checkExtensions is OpenSSL's check_extensions without X509_V_FLAG_X509_STRICT.
func checkExtensions(chain []*cert, p Purpose) (Code, int) {
	plen := 0
	for i, x := range chain {
		if x.unknownCritical {
			return UnhandledCriticalExtension, i
		}
		// The leaf may be anything; every issuer must be a CA, the
		// trust anchor in a looser sense (a v1 root, a key usage with
		// keyCertSign and no basicConstraints).
		if i > 0 {
			if ca := x.checkCA(); ca == 0 || (i+1 < len(chain) && ca != 1) {
				return InvalidCA, i
			}
		}
		if p != AnyPurpose && !x.allows(p, i > 0) {
			return InvalidPurpose, i
		}
		if i > 1 && x.pathLen != -1 && plen > x.pathLen {
			return PathLengthExceeded, i
		}
		if i > 0 && !x.selfIssued {
			plen++
		}
	}
	return 0, 0
}

// allows is X509_check_purpose for sslserver and sslclient: the extended
// key usage of every certificate must allow the purpose; a CA must be a
// CA for TLS, a leaf must have a key usage and Netscape type that fit.
func (x *cert) allows(p Purpose, asCA bool) bool {
	want, ns := xkuServer|xkuSGC, byte(nsSSLServer)
	leafKU := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement
	if p == ClientAuth {
		want, ns = xkuClient, nsSSLClient
		leafKU = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
	}
	if x.xkuReject(want) {
		return false
	}
	if asCA {
		ca := x.checkCA()
		return ca != 0 && (ca != 5 || x.ns&nsSSLCA != 0)
	}
	return !x.kuReject(leafKU) && !x.nsReject(ns)
}

// minBits are OpenSSL's security levels 1 to 5 in bits of security.
var minBits = []int{80, 112, 128, 192, 256}

func levelBits(level int) int { return minBits[min(level, len(minBits))-1] }

// checkAuthLevel is check_auth_level: every CA key, and every signature
// but the trust anchor's, must be as strong as the level asks. (Chain
// checks the leaf's key before it builds the chain, as OpenSSL does.)
func checkAuthLevel(chain []*cert, level int) (Code, int) {
	if level <= 0 {
		return 0, 0
	}
	for i, x := range chain {
		if i > 0 && keyBits(x.PublicKey) < levelBits(level) {
			return CAKeyTooSmall, i
		}
		if i < len(chain)-1 && sigBits(x.SignatureAlgorithm) < levelBits(level) {
			return CAMDTooWeak, i
		}
	}
	return 0, 0
}

// CheckLoad is what OpenSSL refuses when a TLS server or client loads its
// own certificate file at a security level, before any peer sees it:
// SSL_CTX_use_certificate_chain_file applies ssl_security_cert to every
// certificate in the file. The first certificate's key is an end-entity
// key, every other's a CA key, and each must be as strong as the level
// asks; so must the signature of every certificate that is not self-signed
// (a self-signed one is trusted or not for itself, not for its digest).
// Mosquitto then says "Unable to load server certificate" (or client
// certificate, for a bridge). Whether the chain is trusted is Chain's
// question, not this one. A refusal is an *Error: EEKeyTooSmall,
// CAKeyTooSmall or CAMDTooWeak, at the certificate's position in certs.
func CheckLoad(certs []*x509.Certificate, level int) error {
	xs, err := newCerts(certs)
	if err != nil || level <= 0 {
		return err
	}
	for i, x := range xs {
		code := Code(0)
		switch bits := levelBits(level); {
		case i == 0 && keyBits(x.PublicKey) < bits:
			code = EEKeyTooSmall
		case i > 0 && keyBits(x.PublicKey) < bits:
			code = CAKeyTooSmall
		case !x.selfSigned && sigBits(x.SignatureAlgorithm) < bits:
			code = CAMDTooWeak
		}
		if code != 0 {
			return &Error{Code: code, Depth: i, Cert: certs[i], Chain: certs}
		}
	}
	return nil
}

// keyBits is EVP_PKEY_get_security_bits of OpenSSL 3.
func keyBits(pub any) int {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return ifcBits(k.N.BitLen())
	case *ecdsa.PublicKey:
		switch n := k.Curve.Params().N.BitLen(); {
		case n >= 512:
			return 256
		case n >= 384:
			return 192
		case n >= 256:
			return 128
		case n >= 224:
			return 112
		case n >= 160:
			return 80
		default:
			return n / 2
		}
	case ed25519.PublicKey:
		return 128
	case *dsa.PublicKey:
		bits, q := ifcBits(k.P.BitLen()), k.Q.BitLen()/2
		if q < 80 {
			return 0
		}
		return min(bits, q)
	}
	return 0
}

// ifcBits is ossl_ifc_ffc_compute_security_bits: the strength of an RSA
// or finite-field modulus of n bits (SP 800-56B's canonical values, else
// its formula rounded to a multiple of 8, capped so it never decreases).
func ifcBits(n int) int {
	switch n {
	case 2048:
		return 112
	case 3072:
		return 128
	case 4096:
		return 152
	case 6144:
		return 176
	case 7680:
		return 192
	case 8192:
		return 200
	case 15360:
		return 256
	}
	if n >= 687737 {
		return 1200
	}
	if n < 8 {
		return 0
	}
	limit := 1200
	if n <= 7680 {
		limit = 192
	} else if n <= 15360 {
		limit = 256
	}
	x := float64(n) * math.Ln2
	y := int((1.923*math.Cbrt(x*math.Log(x)*math.Log(x)) - 4.690) / math.Ln2)
	return min((y+4)&^7, limit)
}

// sigBits is the security X509_get_signature_info gives a signature: half
// the digest size, 63 bits for SHA-1 and 39 for MD5 (their known
// collision attacks), 128 for Ed25519.
func sigBits(alg x509.SignatureAlgorithm) int {
	switch alg {
	case x509.MD5WithRSA:
		return 39
	case x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return 63
	case x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.DSAWithSHA256, x509.ECDSAWithSHA256, x509.PureEd25519:
		return 128
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		return 192
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		return 256
	}
	return 0
}

// internalVerify is OpenSSL's internal_verify: from the trust anchor down,
// each certificate's signature by the one above it (the anchor's own
// signature is not checked: it adds nothing), then its validity period.
func internalVerify(chain []*cert, now time.Time, checkTime bool) (Code, int) {
	n := len(chain) - 1
	xi, xs := chain[n], chain[n]
	if !likelyIssued(xi, xi) {
		if n == 0 {
			return UnableToVerifyLeafSignature, 0
		}
		n--
		xs = chain[n]
	}
	for {
		if xs != xi {
			if xi.kuReject(x509.KeyUsageCertSign) {
				return KeyUsageNoCertSign, n + 1
			}
			if xi.PublicKey == nil {
				return UnableToDecodeIssuerKey, n + 1
			}
			if !signedBy(xs, xi) {
				return CertSignatureFailure, n
			}
		}
		if code := timeCode(xs, now, checkTime); code != 0 {
			return code, n
		}
		if n--; n < 0 {
			return 0, 0
		}
		xi, xs = xs, chain[n]
	}
}

// timeCode is x509_check_cert_time, to the second. A notAfter of
// 99991231235959Z means no expiry (RFC 5280), and never passes.
func timeCode(x *cert, now time.Time, checkTime bool) Code {
	switch {
	case !checkTime:
		return 0
	case now.Unix() < x.NotBefore.Unix():
		return CertNotYetValid
	case now.Unix() > x.NotAfter.Unix():
		return CertHasExpired
	}
	return 0
}

// signedBy checks x's signature with issuer's key. crypto/x509 refuses
// SHA-1 and MD5 signatures outright; OpenSSL checks them and leaves their
// weakness to the security level, so they are checked here directly.
func signedBy(x, issuer *cert) bool {
	err := issuer.CheckSignature(x.SignatureAlgorithm, x.RawTBSCertificate, x.Signature)
	var insecure x509.InsecureAlgorithmError
	if !errors.As(err, &insecure) {
		return err == nil
	}
	var h crypto.Hash
	var digest []byte
	switch x.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1:
		sum := sha1.Sum(x.RawTBSCertificate)
		h, digest = crypto.SHA1, sum[:]
	case x509.MD5WithRSA:
		sum := md5.Sum(x.RawTBSCertificate)
		h, digest = crypto.MD5, sum[:]
	default:
		return false
	}
	switch k := issuer.PublicKey.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, x.Signature) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, x.Signature)
	}
	return false
}
