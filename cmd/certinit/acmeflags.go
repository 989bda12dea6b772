package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/owner"
	"github.com/urfave/cli/v2"
)

// The certificate options are shared: `acme obtain` defines them plain
// (prefix ""), `run` and `init` with the prefix "acme-" (--acme-domain,
// --acme-out, ... ; a name that already starts with the prefix, acme-ca,
// keeps it once). Each call returns new flag values, as urfave/cli
// mutates flags when it parses.

// acmeFlagName is the full name of a certificate option under prefix.
func acmeFlagName(prefix, name string) string {
	if strings.HasPrefix(name, prefix) {
		return name
	}
	return prefix + name
}

// acmeFlags returns the certificate options, named under prefix.
func acmeFlags(prefix string) []cli.Flag {
	n := func(name string) string { return acmeFlagName(prefix, name) }
	return []cli.Flag{
		&cli.StringSliceFlag{Name: n("domain"), Usage: "`NAME` to certify; repeat for more (the local issuer also takes localhost and IP addresses)"},
		&cli.StringFlag{Name: n("out"), Usage: "`DIR` for cert.pem, chain.pem, fullchain.pem and privkey.pem"},
		&cli.StringFlag{Name: n("issuer"), Value: acme.IssuerACME, Usage: "`ISSUER` to use: acme (an ACME CA such as Let's Encrypt) or local (a CA kept in the cache directory; no network)"},
		&cli.StringFlag{Name: n("email"), Usage: "contact `ADDR` of the ACME account"},
		&cli.StringFlag{Name: n("directory"), Usage: "ACME directory `URL` (default: Let's Encrypt production, " + acme.LetsEncryptURL + ")"},
		&cli.BoolFlag{Name: n("staging"), Usage: "use Let's Encrypt's staging directory (untrusted certificates, generous limits)"},
		&cli.StringFlag{Name: n("http-addr"), Value: acme.DefaultHTTPAddr, Usage: "HTTP-01 challenge listener `ADDR` while ordering; \"\" disables it"},
		&cli.StringFlag{Name: n("tls-addr"), Value: acme.DefaultTLSAddr, Usage: "TLS-ALPN-01 challenge listener `ADDR` while ordering; \"\" disables it"},
		&cli.StringFlag{Name: n("key-type"), Value: string(acme.KeyECDSA), Usage: "certificate key `TYPE`: ecdsa (P-256) or rsa (2048)"},
		&cli.StringFlag{Name: n("cache"), Usage: "cache `DIR` for the account, certificates and local CA (default: OUT.cache beside --out)"},
		&cli.StringFlag{Name: n("acme-ca"), Usage: "PEM `FILE` of a CA to trust for the ACME server's own HTTPS (private ACME CAs)"},
		&cli.StringFlag{Name: n("eab-kid"), Usage: "external account binding key `ID` (CAs that require it)"},
		&cli.StringFlag{Name: n("eab-hmac"), Usage: "external account binding HMAC `KEY`, base64url"},
		&cli.StringFlag{Name: n("owner"), Usage: "`USER[:GROUP]` to own the files; the key becomes 0640 so the broker can read it after dropping root"},
		&cli.StringFlag{Name: n("renew-before"), Value: "30d", Usage: "renew when less than `DURATION` remains (at most a third of the lifetime); e.g. 30d, 720h"},
		&cli.StringFlag{Name: n("local-validity"), Value: "90d", Usage: "`DURATION` local-issuer certificates are valid; e.g. 90d, 10m"},
	}
}

// acmeConfig builds an acme.Config from the options under prefix. Mistakes
// are usage errors. It requires a domain and an output directory; a
// command where the options are optional checks c.IsSet first.
func acmeConfig(c *cli.Context, prefix string) (acme.Config, error) {
	n := func(name string) string { return acmeFlagName(prefix, name) }
	cfg := acme.Config{
		Domains:    c.StringSlice(n("domain")),
		Out:        c.String(n("out")),
		Issuer:     c.String(n("issuer")),
		Email:      c.String(n("email")),
		HTTPAddr:   c.String(n("http-addr")),
		TLSAddr:    c.String(n("tls-addr")),
		KeyType:    acme.KeyType(strings.ToLower(c.String(n("key-type")))),
		CacheDir:   c.String(n("cache")),
		ACMECAFile: c.String(n("acme-ca")),
		EABKID:     c.String(n("eab-kid")),
		EABHMAC:    c.String(n("eab-hmac")),
	}
	if len(cfg.Domains) == 0 {
		return cfg, usageErrorf("--%s is required", n("domain"))
	}
	if cfg.Out == "" {
		return cfg, usageErrorf("--%s is required", n("out"))
	}
	cfg.DirectoryURL = c.String(n("directory"))
	if c.Bool(n("staging")) {
		if cfg.DirectoryURL != "" {
			return cfg, usageErrorf("--%s and --%s exclude each other", n("staging"), n("directory"))
		}
		cfg.DirectoryURL = acme.LetsEncryptStagingURL
	}
	var err error
	if cfg.RenewBefore, err = parseDays(c.String(n("renew-before"))); err != nil {
		return cfg, usageErrorf("--%s: %v", n("renew-before"), err)
	}
	if cfg.LocalValidity, err = parseDays(c.String(n("local-validity"))); err != nil {
		return cfg, usageErrorf("--%s: %v", n("local-validity"), err)
	}
	if spec := c.String(n("owner")); spec != "" {
		o, err := owner.Parse(spec)
		if err != nil {
			return cfg, usageErrorf("--%s: %v", n("owner"), err)
		}
		cfg.Owner = o
	}
	return cfg, nil
}

// newIssuer is acme.New with configuration mistakes as usage errors.
func newIssuer(a *app, cfg acme.Config) (acme.Issuer, error) {
	iss, err := acme.New(cfg, a.log)
	if errors.Is(err, acme.ErrConfig) {
		return nil, usageErrorf("%v", err)
	}
	return iss, err
}

// parseDays is time.ParseDuration that also takes whole days ("30d").
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30d or 720h", s)
	}
	return d, nil
}
