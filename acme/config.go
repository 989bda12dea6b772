package acme

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pemfile"
	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/net/idna"
)

// ACME directories certinit knows by name.
const (
	// LetsEncryptURL is Let's Encrypt's production directory, the default.
	LetsEncryptURL = autocert.DefaultACMEDirectory
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
	DefaultRenewBefore   = 30 * 24 * time.Hour
	DefaultLocalValidity = 90 * 24 * time.Hour
)

// Config says what to obtain and where to put it. The zero value of every
// field but Domains and Out has a default, applied by New.
type Config struct {
	Domains []string // names (and, for the local issuer, IP addresses) to certify
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

	Owner         *owner.Owner  // owner of the output files (nil: the running user); key mode from Owner.KeyMode
	RenewBefore   time.Duration // renew when less than this remains (default 30 days)
	LocalValidity time.Duration // lifetime of local-issuer certificates (default 90 days)
}

// ErrConfig marks a configuration mistake (the command line maps it to
// exit code 2).
var ErrConfig = errors.New("invalid configuration")

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

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
	if c.Domains, err = normalizeNames(c.Domains, c.Issuer == IssuerLocal); err != nil {
		return c, err
	}
	switch c.KeyType {
	case "":
		c.KeyType = KeyECDSA
	case KeyECDSA, KeyRSA:
	default:
		return c, configErrorf("key type must be %q or %q, not %q", KeyECDSA, KeyRSA, c.KeyType)
	}
	if c.RenewBefore == 0 {
		c.RenewBefore = DefaultRenewBefore
	}
	if c.LocalValidity == 0 {
		c.LocalValidity = DefaultLocalValidity
	}
	if c.RenewBefore < 0 || c.LocalValidity < 0 {
		return c, configErrorf("durations must not be negative")
	}
	if c.LocalValidity < time.Second {
		return c, configErrorf("local validity %s is shorter than a second", c.LocalValidity)
	}
	if c.Owner != nil && c.Owner.UID < 0 {
		return c, configErrorf("owner ids must not be negative")
	}
	if c.Issuer == IssuerACME {
		return c.normalizeACME()
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
	if c.HTTPAddr == "" && c.TLSAddr == "" {
		return c, configErrorf("both challenge listeners are disabled: set an HTTP-01 or a TLS-ALPN-01 address")
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
	return c, nil
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

// normalizeNames lower-cases names, converts them to their ASCII (IDNA)
// form, drops a trailing dot and duplicates. The ACME issuer (through
// autocert and the HTTP-01 and TLS-ALPN-01 challenges) can only certify
// DNS names with at least one dot; the local issuer also takes dotless names
// such as localhost, IP addresses and wildcards.
func normalizeNames(names []string, local bool) ([]string, error) {
	if len(names) == 0 {
		return nil, configErrorf("no domain name given")
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		n = strings.TrimSuffix(strings.TrimSpace(n), ".")
		if n == "" {
			return nil, configErrorf("empty domain name")
		}
		if ip := net.ParseIP(n); ip != nil {
			if !local {
				return nil, configErrorf("%s: an IP address cannot be validated by HTTP-01 or TLS-ALPN-01 here; use the local issuer", n)
			}
			n = ip.String()
		} else {
			wild := strings.HasPrefix(n, "*.")
			a, err := idna.Lookup.ToASCII(strings.TrimPrefix(n, "*."))
			if err != nil || strings.ContainsAny(a, ":/ ") {
				return nil, configErrorf("%s: not a valid domain name", n)
			}
			switch {
			case wild && !local:
				return nil, configErrorf("%s: wildcards need the DNS-01 challenge, which certinit does not do; use the local issuer or name each host", n)
			case !strings.Contains(a, ".") && !local:
				return nil, configErrorf("%s: a public CA certifies only names with a dot; use the local issuer for names like localhost", n)
			}
			if wild {
				a = "*." + a
			}
			n = a
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
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
