package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/certinit/certinit/acme"
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
				"    [--owner USER[:GROUP]] [--renew-before DURATION] [--local-validity DURATION]",
			Description: "Orders a certificate for the names from an ACME CA (Let's Encrypt by default),\n" +
				"answering HTTP-01 on --http-addr and TLS-ALPN-01 on --tls-addr while the order runs,\n" +
				"or signs one with a local CA kept in the cache directory (--issuer local, no network).\n" +
				"The cache keeps the account and certificates: while the certificate is valid and\n" +
				"outside --renew-before, obtain contacts nobody and changes no file. On failure\n" +
				"nothing in --out changes and the exit code is 1.",
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
		fmt.Fprintf(a.stdout, "%s: %s, serial %s, valid until %s, renewal from %s, in %s\n",
			strings.Join(crt.Names, ","), state, crt.Serial, crt.NotAfter.UTC().Format(time.RFC3339),
			crt.RenewAt.UTC().Format(time.RFC3339), filepath.Dir(crt.Files.Cert))
	}
	if ca, ok := iss.(*acme.LocalCA); ok {
		fmt.Fprintf(a.stdout, "local CA: %s\n", ca.CAFile())
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
