package acme

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pemfile"
)

// ACME directories certinit knows by name.
const (
	// LetsEncryptURL is Let's Encrypt's production directory, the default.
	LetsEncryptURL = "https://acme-v02.api.letsencrypt.org/directory"
	// LetsEncryptStagingURL is Let's Encrypt's staging directory: real
	// validation, untrusted certificates, generous rate limits.
	LetsEncryptStagingURL = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// Issuer kinds (Config.Issuer).
const (
	IssuerACME  = "acme"
	IssuerLocal = "local"
)

// KeyType is the certificate key algorithm.
type KeyType string

// Key types: ECDSA P-256 (default) or RSA 2048.
const (
	KeyECDSA KeyType = "ecdsa"
	KeyRSA   KeyType = "rsa"
)

// Defaults the command line uses; the zero Config gets only the ones that
// cannot mean "off" (an empty HTTPAddr or TLSAddr disables that listener).
const (
	DefaultHTTPAddr      = ":80"
	DefaultTLSAddr       = ":443"
	DefaultLocalValidity = 90 * 24 * time.Hour
	DefaultDNSTimeout    = 2 * time.Minute
)

// maxLocalValidity is the longest local-issuer certificate: the local CA's
// own lifetime, which no leaf can outlive.
const maxLocalValidity = localCAValid

// Config says what to obtain and where to put it. The zero value of every
// field but Domains and Out has a default, applied by New.
type Config struct {
	Domains []string // names and IP addresses to certify, all in one certificate
	Out     string   // output directory: cert.pem, chain.pem, fullchain.pem, privkey.pem
	Issuer  string   // IssuerACME (default) or IssuerLocal

	Email        string // ACME account contact, optional
	DirectoryURL string // ACME directory; default LetsEncryptURL
	HTTPAddr     string // HTTP-01 listener (":80" on the command line); "" disables it
	TLSAddr      string // TLS-ALPN-01 listener (":443" on the command line); "" disables it
	KeyType      KeyType
	CacheDir     string // account, certificates, local CA; default Out+".cache" beside Out
	ACMECAFile   string // extra CA trusted for the ACME API's own TLS (private CAs)
	EABKID       string // external account binding key id
	EABHMAC      string // external account binding MAC key, base64url
	Profile      string // ACME issuance profile ("shortlived", "tlsserver"); "" is the CA's default

	// ForceRenewal makes the issuer's first Obtain order a new certificate
	// whatever the cache holds; later ones (RenewLoop's) follow the
	// renewal schedule.
	ForceRenewal bool

	// DNS-01. DNSHook or RFC2136Server selects it for every DNS name (the
	// listeners then serve only IP addresses). See dnshook.go and
	// rfc2136.go for the contracts.
	DNSHook        string        // program that publishes (and removes) the TXT record
	DNSCleanupHook string        // program that removes it; default: DNSHook with "cleanup"
	RFC2136Server  string        // HOST:PORT taking RFC 2136 dynamic updates
	RFC2136TSIG    string        // TSIG key file in BIND's format, for RFC2136Server
	DNSResolver    string        // HOST:PORT asked instead of the system resolver and the zone's servers
	DNSTimeout     time.Duration // bound of each hook run and of the wait for the record; default 2 minutes
	// ReapLock is the supervisor's reaper lock (supervisor.Options.ReapLock)
	// when a supervisor runs beside the issuer: a hook holds it for reading
	// from its program's start to its Wait, so that the reaper cannot take
	// the program's exit status. Nil when nothing else reaps.
	ReapLock *sync.RWMutex
	// Report, when set, hears every attempt of RenewLoop (run's metrics);
	// it must not block.
	Report func(Attempt)

	Owner         *owner.Owner  // owner of the output files (nil: the running user); key mode from Owner.KeyMode
	RenewBefore   time.Duration // renew when less than this remains; zero: the CA's window (ARI), else a third of the lifetime
	LocalValidity time.Duration // lifetime of local-issuer certificates (default 90 days)
}

// ErrConfig marks a configuration mistake (the command line maps it to
// exit code 2).
var ErrConfig = errors.New("invalid configuration")

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// dns01 reports whether DNS names are validated through DNS-01.
func (c *Config) dns01() bool { return c.DNSHook != "" || c.RFC2136Server != "" }

// normalize checks c and fills in defaults. It returns a copy.
func (c Config) normalize() (Config, error) {
	if c.Issuer == "" {
		c.Issuer = IssuerACME
	}
	if c.Issuer != IssuerACME && c.Issuer != IssuerLocal {
		return c, configErrorf("issuer must be %q or %q, not %q", IssuerACME, IssuerLocal, c.Issuer)
	}
	if c.Out == "" {
		return c, configErrorf("no output directory")
	}
	out, err := filepath.Abs(c.Out)
	if err != nil {
		return c, fmt.Errorf("%s: %w", c.Out, err)
	}
	c.Out = out
	if c.CacheDir == "" {
		c.CacheDir = out + ".cache"
	}
	if c.CacheDir, err = filepath.Abs(c.CacheDir); err != nil {
		return c, err
	}
	if c.CacheDir == c.Out {
		return c, configErrorf("cache directory must not be the output directory %s (it holds account and CA keys)", c.Out)
	}
	rules := nameRules{local: c.Issuer == IssuerLocal, dns01: c.dns01()}
	if c.Domains, err = normalizeNames(c.Domains, rules); err != nil {
		return c, err
	}
	switch c.KeyType {
	case "":
		c.KeyType = KeyECDSA
	case KeyECDSA, KeyRSA:
	default:
		return c, configErrorf("key type must be %q or %q, not %q", KeyECDSA, KeyRSA, c.KeyType)
	}
	if c.LocalValidity == 0 {
		c.LocalValidity = DefaultLocalValidity
	}
	if c.DNSTimeout == 0 {
		c.DNSTimeout = DefaultDNSTimeout
	}
	switch {
	case c.RenewBefore < 0 || c.LocalValidity < 0 || c.DNSTimeout < 0:
		return c, configErrorf("durations must not be negative")
	case c.LocalValidity < time.Second:
		return c, configErrorf("local validity %s is shorter than a second", c.LocalValidity)
	case c.LocalValidity > maxLocalValidity:
		return c, configErrorf("local validity %s is longer than the local CA's own lifetime (%s)", c.LocalValidity, maxLocalValidity)
	case c.RenewBefore > maxLocalValidity:
		// No CA issues certificates this long: the value is a mistake,
		// such as a number of days that overflowed.
		return c, configErrorf("renew-before %s is longer than any certificate lives", c.RenewBefore)
	}
	if c.Owner != nil && c.Owner.UID < 0 {
		return c, configErrorf("owner ids must not be negative")
	}
	if c.Issuer == IssuerACME {
		return c.normalizeACME()
	}
	if c.Profile != "" || c.dns01() || c.DNSResolver != "" {
		return c, configErrorf("profiles and DNS-01 options are for the ACME issuer, not the local one")
	}
	return c, nil
}

func (c Config) normalizeACME() (Config, error) {
	if c.DirectoryURL == "" {
		c.DirectoryURL = LetsEncryptURL
	}
	u, err := url.Parse(c.DirectoryURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return c, configErrorf("ACME directory %q is not an https:// URL", c.DirectoryURL)
	}
	needListener := !c.dns01() || slices.ContainsFunc(c.Domains, isIP)
	if needListener && c.HTTPAddr == "" && c.TLSAddr == "" {
		if c.dns01() {
			return c, configErrorf("an IP address is validated through HTTP-01 or TLS-ALPN-01, and both challenge listeners are disabled")
		}
		return c, configErrorf("both challenge listeners are disabled: set an HTTP-01 or a TLS-ALPN-01 address, or DNS-01")
	}
	for _, a := range []string{c.HTTPAddr, c.TLSAddr} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return c, configErrorf("challenge listener address %q: %v", a, err)
		}
	}
	if (c.EABKID == "") != (c.EABHMAC == "") {
		return c, configErrorf("external account binding needs both the key id and the HMAC key")
	}
	if c.EABHMAC != "" {
		if _, err := decodeHMAC(c.EABHMAC); err != nil {
			return c, configErrorf("external account binding HMAC key is not base64url: %v", err)
		}
	}
	if c.Email != "" && !strings.Contains(c.Email, "@") {
		return c, configErrorf("account email %q has no @", c.Email)
	}
	return c.normalizeDNS()
}

// normalizeDNS checks the DNS-01 options.
func (c Config) normalizeDNS() (Config, error) {
	switch {
	case c.DNSHook != "" && c.RFC2136Server != "":
		return c, configErrorf("a DNS hook and an RFC 2136 server exclude each other")
	case c.DNSCleanupHook != "" && c.DNSHook == "":
		return c, configErrorf("a DNS cleanup hook needs a DNS hook")
	case c.RFC2136Server != "" && c.RFC2136TSIG == "":
		return c, configErrorf("an RFC 2136 server needs a TSIG key file")
	case c.RFC2136TSIG != "" && c.RFC2136Server == "":
		return c, configErrorf("a TSIG key file needs an RFC 2136 server")
	case c.DNSResolver != "" && !c.dns01():
		return c, configErrorf("a DNS resolver is for DNS-01: give a DNS hook or an RFC 2136 server too")
	}
	var err error
	if c.RFC2136Server != "" {
		if c.RFC2136Server, err = dnsServerAddr(c.RFC2136Server); err != nil {
			return c, configErrorf("RFC 2136 server: %v", err)
		}
	}
	if c.DNSResolver != "" {
		if c.DNSResolver, err = dnsServerAddr(c.DNSResolver); err != nil {
			return c, configErrorf("DNS resolver: %v", err)
		}
	}
	return c, nil
}

// dnsServerAddr checks a DNS server's HOST:PORT; a HOST alone means port 53.
func dnsServerAddr(s string) (string, error) {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	if s == "" || strings.ContainsAny(s, "/ ") {
		return "", fmt.Errorf("%q is not HOST:PORT", s)
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), "53"), nil
}

// decodeHMAC decodes an EAB MAC key. CAs hand it out base64url without
// padding; padded and standard base64 are accepted too.
func decodeHMAC(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return nil, errors.New("cannot decode")
}

// loadCAFile reads the certificates that the ACME API's TLS may chain to.
func loadCAFile(path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if path == "" {
		return pool, nil
	}
	certs, err := pemfile.ReadCertificates(path)
	if err != nil {
		return nil, fmt.Errorf("%w: ACME CA file: %w", ErrConfig, err)
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
