package verify

import (
	"crypto/x509"
	"errors"
	"time"
)

// Purpose is what the target certificate must be good for, as OpenSSL's
// -purpose names it.
type Purpose int

// Purposes.
const (
	// AnyPurpose checks no purpose (openssl verify without -purpose): the
	// question is only whether the chain reaches a trusted root.
	AnyPurpose Purpose = iota
	// ServerAuth is sslserver: a listener's certificate as a client or a
	// bridge checks it.
	ServerAuth
	// ClientAuth is sslclient: a client's or a bridge's certificate as a
	// listener with require_certificate checks it.
	ClientAuth
)

// String returns OpenSSL's name of the purpose (openssl verify -purpose).
func (p Purpose) String() string {
	switch p {
	case ServerAuth:
		return "sslserver"
	case ClientAuth:
		return "sslclient"
	}
	return "any"
}

// MosquittoSecurityLevel is the OpenSSL security level Mosquitto's TLS
// connections run at on Debian 12, whose OpenSSL is built with level 2 as
// its default (upstream's is 1); Mosquitto does not change it unless its
// ciphers option says @SECLEVEL. Level 2 refuses RSA keys under 2048 bits
// and SHA-1 signatures below the trust anchor.
const MosquittoSecurityLevel = 2

// maxDepth is OpenSSL's default verify depth (100) plus one: a longer
// chain is never trusted.
const maxDepth = 101

// Options say how Chain checks.
type Options struct {
	Purpose Purpose
	// Time is when the chain must be valid; zero means now.
	Time time.Time
	// NoCheckTime skips validity periods (X509_V_FLAG_NO_CHECK_TIME),
	// for a chain that matters whatever its dates.
	NoCheckTime bool
	// SecurityLevel is the OpenSSL security level (auth_level): 0 checks
	// no key sizes or digests, as `openssl verify` without -auth_level;
	// MosquittoSecurityLevel is what Mosquitto on Debian checks.
	SecurityLevel int
}

// Chain verifies certs[0] with the rest of certs as the untrusted
// certificates that came with it (what a TLS peer sends after its own),
// against trust, as OpenSSL does (see the package documentation). It
// returns the chain it built, from certs[0] to a self-signed certificate
// of trust. A chain OpenSSL refuses is an *Error; any other error means a
// certificate OpenSSL could not have loaded at all.
func Chain(certs []*x509.Certificate, trust *Trust, opts Options) ([]*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, errors.New("no certificate to verify")
	}
	in, err := newCerts(certs)
	if err != nil {
		return nil, err
	}
	if trust == nil {
		trust = &Trust{}
	}
	now := opts.Time
	if now.IsZero() {
		now = time.Now()
	}
	checkTime := !opts.NoCheckTime
	fail := func(chain []*cert, code Code, depth int) ([]*x509.Certificate, error) {
		out := plain(chain)
		return out, &Error{Code: code, Depth: depth, Cert: out[depth], Chain: out}
	}
	if opts.SecurityLevel > 0 && keyBits(in[0].PublicKey) < levelBits(opts.SecurityLevel) {
		return fail(in[:1], EEKeyTooSmall, 0)
	}
	chain, code := build(in[0], in[1:], trust, now, checkTime)
	if code != 0 {
		return fail(chain, code, len(chain)-1)
	}
	for _, check := range []func() (Code, int){
		func() (Code, int) { return checkExtensions(chain, opts.Purpose) },
		func() (Code, int) { return checkAuthLevel(chain, opts.SecurityLevel) },
		func() (Code, int) { return internalVerify(chain, now, checkTime) },
	} {
		if code, depth := check(); code != 0 {
			return fail(chain, code, depth)
		}
	}
	return plain(chain), nil
}

func plain(chain []*cert) []*x509.Certificate {
	out := make([]*x509.Certificate, len(chain))
	for i, x := range chain {
		out[i] = x.Certificate
	}
	return out
}

// Allows is OpenSSL's purpose check of one certificate (X509_check_purpose,
// what `openssl x509 -purpose` prints): whether c may be used for p as an
// end-entity certificate, or, with asCA, as a CA that issues such
// certificates. Chain applies it to every certificate of a chain; Allows
// answers for a certificate whose chain is not at hand, such as a bridge's
// client certificate, which the remote broker verifies against its own
// trust. AnyPurpose allows everything.
func Allows(c *x509.Certificate, p Purpose, asCA bool) (bool, error) {
	if p == AnyPurpose {
		return true, nil
	}
	x, err := newCert(c)
	if err != nil {
		return false, err
	}
	return x.allows(p, asCA), nil
}
