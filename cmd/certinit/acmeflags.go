package main

import (
	"errors"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/acme"
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
		&cli.StringSliceFlag{Name: n("domain"), Usage: "`NAME` or IP address to certify; repeat for more, all in one certificate (*.NAME needs DNS-01; the local issuer also takes localhost)"},
		&cli.StringFlag{Name: n("out"), Usage: "`DIR` for cert.pem, chain.pem, fullchain.pem and privkey.pem"},
		&cli.StringFlag{Name: n("issuer"), Value: acme.IssuerACME, Usage: "`ISSUER` to use: acme (an ACME CA such as Let's Encrypt) or local (a CA kept in the cache directory; no network)"},
		&cli.StringFlag{Name: n("email"), Usage: "contact `ADDR` of the ACME account"},
		&cli.StringFlag{Name: n("directory"), Usage: "ACME directory `URL` (default: Let's Encrypt production, " + acme.LetsEncryptURL + ")"},
		&cli.BoolFlag{Name: n("staging"), Usage: "use Let's Encrypt's staging directory (untrusted certificates, generous limits)"},
		&cli.StringFlag{Name: n("http-addr"), Value: acme.DefaultHTTPAddr, Usage: "HTTP-01 challenge listener `ADDR` while ordering; \"\" disables it"},
		&cli.StringFlag{Name: n("tls-addr"), Value: acme.DefaultTLSAddr, Usage: "TLS-ALPN-01 challenge listener `ADDR` while ordering; \"\" disables it"},
		&cli.StringFlag{Name: n("key-type"), Value: string(acme.KeyECDSA), Usage: "certificate key `TYPE`: ecdsa (P-256) or rsa (2048)"},
		&cli.StringFlag{Name: n("cache"), Usage: "cache `DIR` for the account, the certificate, the CA's renewal information and the local CA (default: OUT.cache beside --" + n("out") + ")"},
		&cli.StringFlag{Name: n("acme-ca"), Usage: "PEM `FILE` of a CA to trust for the ACME server's own HTTPS (private ACME CAs)"},
		&cli.StringFlag{Name: n("eab-kid"), Usage: "external account binding key `ID` (CAs that require it)"},
		&cli.StringFlag{Name: n("eab-hmac"), Usage: "external account binding HMAC `KEY`, base64url"},
		ownerFlag(n("owner"), "the files written"),
		durationFlag(n("renew-before"), 0, "renew when less than `DURATION` remains, instead of in the CA's renewal window",
			"renews in the CA's renewal window (ARI), or when a third of the lifetime is left"),
		durationFlag(n("local-validity"), acme.DefaultLocalValidity, "`DURATION` local-issuer certificates are valid", ""),
		&cli.StringFlag{Name: n("profile"), Usage: "ACME issuance profile `NAME`, such as shortlived or tlsserver (default: the CA's)"},
		&cli.BoolFlag{Name: n("force-renewal"), Usage: "order a new certificate now, whatever the cache holds" + forcedWhen(prefix)},
		&cli.StringFlag{Name: n("dns-hook"), Usage: "answer DNS-01 with `CMD`: run as CMD present|cleanup FQDN VALUE, " +
			"with certbot's CERTBOT_DOMAIN and CERTBOT_VALIDATION set; a command line with spaces runs through /bin/sh"},
		&cli.StringFlag{Name: n("dns-cleanup-hook"), Usage: "`CMD` that removes the TXT record, run like --" + n("dns-hook") +
			" with CERTBOT_AUTH_OUTPUT too (default: --" + n("dns-hook") + " with cleanup)"},
		&cli.StringFlag{Name: n("dns-rfc2136-server"), Usage: "answer DNS-01 by RFC 2136 dynamic updates to the primary server at `HOST:PORT`"},
		&cli.StringFlag{Name: n("dns-rfc2136-tsig"), Usage: "TSIG key `FILE` in BIND's format (tsig-keygen) signing the updates"},
		&cli.StringFlag{Name: n("dns-resolver"), Usage: "DNS server at `HOST:PORT` asked whether the TXT record is visible " +
			"(default: the system resolver finds the zone's name servers, which are asked)"},
		durationFlag(n("dns-timeout"), acme.DefaultDNSTimeout, "`DURATION` each DNS hook run and the wait for the TXT record may take", ""),
	}
}

// forcedWhen says when --force-renewal forces under prefix: run and init
// order at start-up, then follow the renewal schedule.
func forcedWhen(prefix string) string {
	if prefix == "" {
		return ""
	}
	return " (at start-up; renewals then follow the schedule)"
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
	cfg.RenewBefore, cfg.LocalValidity = durationOf(c, n("renew-before")), durationOf(c, n("local-validity"))
	cfg.Profile, cfg.ForceRenewal = c.String(n("profile")), c.Bool(n("force-renewal"))
	cfg.DNSHook, cfg.DNSCleanupHook = c.String(n("dns-hook")), c.String(n("dns-cleanup-hook"))
	cfg.RFC2136Server, cfg.RFC2136TSIG = c.String(n("dns-rfc2136-server")), c.String(n("dns-rfc2136-tsig"))
	cfg.DNSResolver, cfg.DNSTimeout = c.String(n("dns-resolver")), durationOf(c, n("dns-timeout"))
	// Under run and init --owner is shared with --copy-to: no acme-owner.
	var err error
	cfg.Owner, err = parseOwnerFlag(c, n("owner"))
	return cfg, err
}

// newIssuer is acme.New with configuration mistakes as usage errors.
func newIssuer(a *app, cfg acme.Config) (acme.Issuer, error) {
	iss, err := acme.New(cfg, a.log)
	if errors.Is(err, acme.ErrConfig) {
		return nil, acmeUsageError("acme obtain", "", err)
	}
	return iss, err
}

// acmeUsageError is a configuration mistake acme found (errors.Is
// acme.ErrConfig) in command cmd, as a usage error that names the flags at
// fault as cmd spells them: under prefix, and --owner, which run and init
// share with --copy-to, unprefixed.
func acmeUsageError(cmd, prefix string, err error) error {
	var ce *acme.ConfigError
	if !errors.As(err, &ce) {
		return usageErrorf("%s: %v", cmd, err)
	}
	return usageErrorf("%s: %s", cmd, ce.Message(func(option string) string {
		if option == "owner" {
			return "--owner"
		}
		return "--" + acmeFlagName(prefix, option)
	}))
}
