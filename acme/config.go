package acme

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
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
// exit code 2). Every one is a *ConfigError.
var ErrConfig = errors.New("invalid configuration")

// ConfigError is a configuration mistake. It names the options at fault by
// the names of `acme obtain`'s flags ("renew-before", "domain"), so that a
// command line that spells them otherwise (run's --acme-renew-before) can
// say which of its own flags to change: Message.
type ConfigError struct {
	// Option is the option whose value is wrong; "" when the mistake is in
	// how options combine (Message names them all).
	Option string
	Err    error  // the cause, or nil
	format string // what is wrong (fmt), other options written as {name}
	args   []any
}

// optionRef is how a ConfigError's format names an option: {dns-hook}.
var optionRef = regexp.MustCompile(`\{[a-z0-9-]+\}`)

// configErrorf returns a *ConfigError about option ("" for none); format
// may name other options as {name}.
func configErrorf(option, format string, args ...any) *ConfigError {
	return &ConfigError{Option: option, format: format, args: args}
}

// Message is the mistake in one line, each option written as flag returns
// its name: "--acme-renew-before: 300000h0m0s is longer than any
// certificate lives".
func (e *ConfigError) Message(flag func(option string) string) string {
	format := optionRef.ReplaceAllStringFunc(e.format, func(ref string) string {
		return strings.ReplaceAll(flag(ref[1:len(ref)-1]), "%", "%%")
	})
	msg := fmt.Sprintf(format, e.args...)
	if e.Option != "" {
		msg = flag(e.Option) + ": " + msg
	}
	return msg
}

// Error names the options as `acme obtain` does.
func (e *ConfigError) Error() string {
	return ErrConfig.Error() + ": " + e.Message(func(option string) string { return "--" + option })
}

// Is makes every ConfigError an ErrConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

func (e *ConfigError) Unwrap() error { return e.Err }

// dns01 reports whether DNS names are validated through DNS-01.
func (c *Config) dns01() bool { return c.DNSHook != "" || c.RFC2136Server != "" }

// normalize checks c and fills in defaults. It returns a copy.
func (c Config) normalize() (Config, error) {
	if c.Issuer == "" {
		c.Issuer = IssuerACME
	}
	if c.Issuer != IssuerACME && c.Issuer != IssuerLocal {
		return c, configErrorf("issuer", "must be %q or %q, not %q", IssuerACME, IssuerLocal, c.Issuer)
	}
	if c.Out == "" {
		return c, configErrorf("", "{out} is required: the output directory")
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
		return c, configErrorf("cache", "must not be the output directory %s (it holds account and CA keys)", c.Out)
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
		return c, configErrorf("key-type", "must be %q or %q, not %q", KeyECDSA, KeyRSA, c.KeyType)
	}
	if c.LocalValidity == 0 {
		c.LocalValidity = DefaultLocalValidity
	}
	if c.DNSTimeout == 0 {
		c.DNSTimeout = DefaultDNSTimeout
	}
	for _, d := range []struct {
		option string
		value  time.Duration
	}{{"renew-before", c.RenewBefore}, {"local-validity", c.LocalValidity}, {"dns-timeout", c.DNSTimeout}} {
		if d.value < 0 {
			return c, configErrorf(d.option, "%s is negative", d.value)
		}
	}
	switch {
	case c.LocalValidity < time.Second:
		return c, configErrorf("local-validity", "%s is shorter than a second", c.LocalValidity)
	case c.LocalValidity > maxLocalValidity:
		return c, configErrorf("local-validity", "%s is longer than the local CA's own lifetime (%s)", c.LocalValidity, maxLocalValidity)
	case c.RenewBefore > maxLocalValidity:
		// No CA issues certificates this long: the value is a mistake,
		// such as a number of days that overflowed.
		return c, configErrorf("renew-before", "%s is longer than any certificate lives", c.RenewBefore)
	}
	if c.Owner != nil && c.Owner.UID < 0 {
		return c, configErrorf("owner", "ids must not be negative")
	}
	if c.Issuer == IssuerACME {
		return c.normalizeACME()
	}
	for _, o := range []struct{ option, value string }{
		{"profile", c.Profile}, {"dns-hook", c.DNSHook}, {"dns-rfc2136-server", c.RFC2136Server}, {"dns-resolver", c.DNSResolver},
	} {
		if o.value != "" {
			return c, configErrorf(o.option, "is for the ACME issuer, not the local one ({issuer} %s)", IssuerLocal)
		}
	}
	return c, nil
}

func (c Config) normalizeACME() (Config, error) {
	if c.DirectoryURL == "" {
		c.DirectoryURL = LetsEncryptURL
	}
	u, err := url.Parse(c.DirectoryURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return c, configErrorf("directory", "%q is not an https:// URL", c.DirectoryURL)
	}
	needListener := !c.dns01() || slices.ContainsFunc(c.Domains, isIP)
	if needListener && c.HTTPAddr == "" && c.TLSAddr == "" {
		if c.dns01() {
			return c, configErrorf("", "an IP address is validated through HTTP-01 or TLS-ALPN-01, and both challenge listeners are disabled: set {http-addr} or {tls-addr}")
		}
		return c, configErrorf("", "both challenge listeners are disabled: set {http-addr} or {tls-addr}, or answer DNS-01 ({dns-hook}, {dns-rfc2136-server})")
	}
	for _, l := range []struct{ option, addr string }{{"http-addr", c.HTTPAddr}, {"tls-addr", c.TLSAddr}} {
		if l.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			return c, configErrorf(l.option, "challenge listener address %q: %v", l.addr, err)
		}
	}
	if (c.EABKID == "") != (c.EABHMAC == "") {
		return c, configErrorf("", "external account binding needs both {eab-kid} and {eab-hmac}")
	}
	if c.EABHMAC != "" {
		if _, err := decodeHMAC(c.EABHMAC); err != nil {
			return c, configErrorf("eab-hmac", "is not base64url: %v", err)
		}
	}
	if c.Email != "" && !strings.Contains(c.Email, "@") {
		return c, configErrorf("email", "%q has no @", c.Email)
	}
	return c.normalizeDNS()
}

// normalizeDNS checks the DNS-01 options.
func (c Config) normalizeDNS() (Config, error) {
	switch {
	case c.DNSHook != "" && c.RFC2136Server != "":
		return c, configErrorf("", "{dns-hook} and {dns-rfc2136-server} exclude each other")
	case c.DNSCleanupHook != "" && c.DNSHook == "":
		return c, configErrorf("", "{dns-cleanup-hook} needs a DNS hook: {dns-hook}")
	case c.RFC2136Server != "" && c.RFC2136TSIG == "":
		return c, configErrorf("", "{dns-rfc2136-server} needs a TSIG key file: {dns-rfc2136-tsig}")
	case c.RFC2136TSIG != "" && c.RFC2136Server == "":
		return c, configErrorf("", "{dns-rfc2136-tsig} needs an RFC 2136 server: {dns-rfc2136-server}")
	case c.DNSResolver != "" && !c.dns01():
		return c, configErrorf("", "{dns-resolver} is for DNS-01: give {dns-hook} or {dns-rfc2136-server} too")
	}
	var err error
	if c.RFC2136Server != "" {
		if c.RFC2136Server, err = dnsServerAddr(c.RFC2136Server); err != nil {
			return c, configErrorf("dns-rfc2136-server", "%v", err)
		}
	}
	if c.DNSResolver != "" {
		if c.DNSResolver, err = dnsServerAddr(c.DNSResolver); err != nil {
			return c, configErrorf("dns-resolver", "%v", err)
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
		ce := configErrorf("acme-ca", "%v", err)
		ce.Err = err
		return nil, ce
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
