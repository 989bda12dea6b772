package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/safetext"
	"github.com/urfave/cli/v2"
)

func (a *app) acmeCommand() *cli.Command {
	return &cli.Command{
		Name:  "acme",
		Usage: "obtain certificates from an ACME CA or the local issuer",
		Subcommands: []*cli.Command{{
			Name:  "obtain",
			Usage: "obtain (or renew) a certificate and write cert.pem, chain.pem, fullchain.pem, privkey.pem",
			UsageText: "certinit acme obtain --domain NAME [--domain NAME...] --out DIR\n" +
				"    [--issuer acme|local] [--email ADDR] [--directory URL | --staging]\n" +
				"    [--http-addr ADDR] [--tls-addr ADDR] [--key-type ecdsa|rsa]\n" +
				"    [--cache DIR] [--acme-ca FILE] [--eab-kid ID --eab-hmac KEY]\n" +
				"    [--owner USER[:GROUP]] [--renew-before DURATION] [--local-validity DURATION]\n" +
				"    [--profile NAME] [--force-renewal]\n" +
				"    [--dns-hook CMD [--dns-cleanup-hook CMD] | --dns-rfc2136-server HOST:PORT --dns-rfc2136-tsig FILE]\n" +
				"    [--dns-resolver HOST:PORT] [--dns-timeout DURATION]",
			Description: "Orders one certificate for all the names (and IP addresses) from an ACME CA (Let's\n" +
				"Encrypt by default), answering HTTP-01 on --http-addr and TLS-ALPN-01 on --tls-addr\n" +
				"while the order runs, or DNS-01 for names through --dns-hook or --dns-rfc2136-server\n" +
				"(wildcards need it), or signs one with a local CA kept in the cache directory\n" +
				"(--issuer local, no network). The cache keeps the account and the certificate: until\n" +
				"it is due for renewal (in the CA's renewal window, ARI; else when a third of its\n" +
				"lifetime is left; or --renew-before), obtain changes no file and contacts the CA at\n" +
				"most to ask its renewal information again. It prints when and why the renewal is due.\n" +
				"On failure nothing in --out changes and the exit code is 1.\n\n" +
				"DNS-01 through a hook (lego's exec arguments, certbot's environment):\n" +
				"  certinit acme obtain --domain mqtt.example.com --domain '*.mqtt.example.com' \\\n" +
				"      --out /etc/mosquitto/certs --dns-hook /usr/local/bin/dns-hook --http-addr '' --tls-addr ''\n" +
				"DNS-01 through RFC 2136 (BIND, Knot, PowerDNS; key file from tsig-keygen):\n" +
				"  certinit acme obtain --domain mqtt.example.com --out /etc/mosquitto/certs \\\n" +
				"      --dns-rfc2136-server ns1.example.com:53 --dns-rfc2136-tsig /etc/certinit/tsig.key \\\n" +
				"      --http-addr '' --tls-addr ''",
			Flags:  acmeFlags(""),
			Action: a.acmeObtain,
		}},
	}
}

func (a *app) acmeObtain(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("acme obtain takes no arguments, got %q", c.Args().First())
	}
	cfg, err := acmeConfig(c, "")
	if err != nil {
		return err
	}
	iss, err := newIssuer(a, cfg)
	if err != nil {
		return err
	}
	res, err := iss.Obtain(c.Context)
	if errors.Is(err, acme.ErrConfig) { // a profile the CA does not offer
		return acmeUsageError("acme obtain", "", err)
	}
	if err != nil {
		return err
	}
	for _, crt := range res.Certs {
		state := "unchanged"
		switch {
		case crt.Issued:
			state = "issued"
		case wroteAny(res.Written, crt.Files):
			state = "written from cache"
		}
		// The reason may carry the CA's explanation URL, the directory a
		// user's path: both escaped (safetext).
		fmt.Fprintf(a.stdout, "%s: %s, serial %s, valid until %s, renewal from %s (%s), in %s\n",
			strings.Join(crt.Names, ","), state, crt.Serial, crt.NotAfter.UTC().Format(time.RFC3339),
			crt.RenewAt.UTC().Format(time.RFC3339), safetext.Quote(crt.RenewWhy), safetext.Quote(filepath.Dir(crt.Files.Cert)))
	}
	if ca, ok := iss.(*acme.LocalCA); ok {
		fmt.Fprintf(a.stdout, "local CA: %s\n", safetext.Quote(ca.CAFile()))
	}
	return nil
}

func wroteAny(written []string, f acme.Files) bool {
	for _, p := range []string{f.Cert, f.Chain, f.FullChain, f.Key} {
		if slices.Contains(written, p) {
			return true
		}
	}
	return false
}
