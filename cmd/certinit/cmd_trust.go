package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/certinit/certinit/internal/safetext"
	"github.com/certinit/certinit/truststore"
	"github.com/urfave/cli/v2"
)

// trustFlags are the flags every trust subcommand shares.
func trustFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Value: "/", Usage: "`DIR` holding the OS tree (an image's root file system)"},
		&cli.StringFlag{Name: "store", Value: "auto", Usage: "`STORE` layout: auto, debian, alpine, rhel, suse, arch or dir:PATH (PATH inside --root; a relative PATH, only with --root /, is relative to the current directory)"},
	}
}

func (a *app) trustCommand() *cli.Command {
	return &cli.Command{
		Name:  "trust",
		Usage: "install, remove, list or rebuild CA certificates in the OS trust store",
		Description: "Manages the trust store the way the distribution's update-ca-certificates or\n" +
			"update-ca-trust would, natively and in any image (also scratch and distroless).",
		Subcommands: []*cli.Command{
			{
				Name:      "install",
				Usage:     "add CA certificates (PEM bundles or DER files) to the trust store",
				ArgsUsage: "FILE...",
				Flags: append(trustFlags(),
					&cli.BoolFlag{Name: "allow-non-ca", Usage: "also accept certificates that are neither CA certificates nor self-signed"},
					&cli.BoolFlag{Name: "allow-partial-chain", Usage: "also install CAs that do not chain to a self-signed root in the store (OpenSSL clients will not trust what they issued)"},
					&cli.BoolFlag{Name: "mozilla-roots", Usage: "add the Mozilla root set embedded in certinit"},
				),
				Action: a.trustInstall,
			},
			{
				Name:      "remove",
				Usage:     "remove locally installed certificates, by NAME (see list) or by certificate FILE",
				ArgsUsage: "NAME|FILE...",
				Flags:     trustFlags(),
				Action:    a.trustRemove,
			},
			{
				Name:   "list",
				Usage:  "list the certificates in the trust store",
				Flags:  append(trustFlags(), &cli.BoolFlag{Name: "json", Usage: "print a JSON array"}),
				Action: a.trustList,
			},
			{
				Name:   "rebuild",
				Usage:  "regenerate links and bundle from the sources (update-ca-certificates)",
				Flags:  append(trustFlags(), &cli.BoolFlag{Name: "fresh", Usage: "drop every link to a source first, then recreate them"}),
				Action: a.trustRebuild,
			},
		},
	}
}

func (a *app) openStore(c *cli.Context) (*truststore.Store, error) {
	spec := c.String("store")
	if err := checkStoreSpec("--store", spec, c.String("root")); err != nil {
		return nil, err
	}
	return truststore.Open(c.String("root"), spec, a.log)
}

// checkStoreSpec makes an unknown store name given to flag, or a relative
// dir: path with a --root other than /, a usage error.
func checkStoreSpec(flag, spec, root string) error {
	if spec == "auto" || spec == "" {
		return nil
	}
	if _, err := truststore.LayoutByName(root, spec); err != nil {
		return usageErrorf("%s: %v", flag, err)
	}
	return nil
}

func (a *app) trustInstall(c *cli.Context) error {
	if c.NArg() == 0 && !c.Bool("mozilla-roots") {
		return usageErrorf("trust install: give one or more certificate files, or --mozilla-roots")
	}
	s, err := a.openStore(c)
	if err != nil {
		return err
	}
	rep, err := s.Install(c.Context, c.Args().Slice(), truststore.InstallOptions{
		AllowNonCA:        c.Bool("allow-non-ca"),
		AllowPartialChain: c.Bool("allow-partial-chain"),
		MozillaRoots:      c.Bool("mozilla-roots"),
	})
	if err != nil {
		return err
	}
	for _, ct := range rep.Added {
		fmt.Fprintf(a.stdout, "added %s (%s, expires %s) -> %s\n", safetext.Quote(ct.Name), ct.Subject, ct.NotAfter.Format("2006-01-02"), safetext.Quote(ct.Source))
	}
	if len(rep.Present) > 0 && len(rep.Present) <= 20 {
		for _, ct := range rep.Present {
			fmt.Fprintf(a.stdout, "present %s (%s) in %s\n", safetext.Quote(ct.Name), ct.Subject, safetext.Quote(ct.Source))
		}
	}
	for _, cp := range rep.Completed {
		fmt.Fprintf(a.stdout, "root %s added from certinit's Mozilla set: %s chains to it, and OpenSSL trusts a chain only up to a root\n",
			cp.Root.Subject, cp.For.Subject)
	}
	for _, p := range rep.Partial {
		fmt.Fprintf(a.stdout, "partial chain: %s is installed, but its issuer %s is not in the store%s: "+
			"OpenSSL clients (Mosquitto, bridges, mosquitto_sub) will not accept certificates it issued until that root is installed too\n",
			p.Cert.Subject, p.MissingIssuer, issuerURLs(p.IssuerURLs))
	}
	a.printSyncNotes(rep)
	fmt.Fprintf(a.stdout, "%s store: %d added, %d already present; bundle %s\n", safetext.Quote(rep.Store), len(rep.Added), len(rep.Present), safetext.Quote(rep.Bundle))
	return nil
}

// printSyncNotes says what an operation on a dir: store did besides
// links: bundles split, the bundle's move from its old name. The paths are
// file names in a directory others write to, so they are escaped.
func (a *app) printSyncNotes(rep *truststore.Report) {
	for _, sp := range rep.Split {
		if sp.KeptAs == "" {
			fmt.Fprintf(a.stdout, "split %s into one file per certificate (%d new), since a capath needs that; "+
				"the file stays, as you named it, and rehash skips it (move it out of the directory, or run trust rebuild to move it aside)\n",
				safetext.Quote(sp.Bundle), len(sp.Certs))
			continue
		}
		fmt.Fprintf(a.stdout, "split %s into one file per certificate (%d new), since a capath needs that; the original is now %s, which rehash ignores\n",
			safetext.Quote(sp.Bundle), len(sp.Certs), safetext.Quote(sp.KeptAs))
	}
	if rep.Migrated != "" {
		fmt.Fprintf(a.stdout, "removed %s, the bundle of an older certinit that rehash took for a certificate file; the bundle is now %s (point cafile there)\n",
			safetext.Quote(rep.Migrated), safetext.Quote(rep.Bundle))
	}
}

// issuerURLs is where a certificate says its issuer is, each URL escaped:
// the certificate's author wrote them.
func issuerURLs(urls []string) string {
	if len(urls) == 0 {
		return ""
	}
	quoted := make([]string, len(urls))
	for i, u := range urls {
		quoted[i] = safetext.Quote(u)
	}
	return " (the certificate names it at " + strings.Join(quoted, ", ") + ")"
}

func (a *app) trustRemove(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErrorf("trust remove: give one or more certificate names or files")
	}
	s, err := a.openStore(c)
	if err != nil {
		return err
	}
	rep, err := s.Remove(c.Context, c.Args().Slice())
	if err != nil {
		return err
	}
	for _, ct := range rep.Removed {
		fmt.Fprintf(a.stdout, "removed %s (%s) from %s\n", safetext.Quote(ct.Name), ct.Subject, safetext.Quote(ct.Source))
	}
	a.printSyncNotes(rep)
	fmt.Fprintf(a.stdout, "%s store: %d removed; bundle %s\n", safetext.Quote(rep.Store), len(rep.Removed), safetext.Quote(rep.Bundle))
	return nil
}

func (a *app) trustList(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("trust list takes no arguments")
	}
	s, err := a.openStore(c)
	if err != nil {
		return err
	}
	certs, err := s.List(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		if certs == nil {
			certs = []truststore.Cert{}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(certs)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HASH\tEXPIRES\tNAME\tSUBJECT\tSOURCE")
	for _, ct := range certs {
		exp := ct.NotAfter.Format("2006-01-02")
		if ct.Expired {
			exp += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", orDash(ct.Hash), exp, safetext.Quote(ct.Name), ct.Subject, safetext.Quote(ct.Source))
	}
	return tw.Flush()
}

func (a *app) trustRebuild(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("trust rebuild takes no arguments")
	}
	s, err := a.openStore(c)
	if err != nil {
		return err
	}
	rep, err := s.Rebuild(c.Context, c.Bool("fresh"))
	if err != nil {
		return err
	}
	a.printSyncNotes(rep)
	fmt.Fprintf(a.stdout, "%s store: %d links created, %d removed; bundle %s\n", safetext.Quote(rep.Store), len(rep.LinksCreated), len(rep.LinksRemoved), safetext.Quote(rep.Bundle))
	return nil
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
