package main

import (
	"errors"
	"fmt"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/safetext"
	"github.com/urfave/cli/v2"
)

// hashCommand is `certinit hash [--old] FILE...`: the OpenSSL subject hash of
// each certificate (issuer hash of each CRL), one "HASH  FILE" line per file,
// as `openssl x509 -subject_hash` / `-subject_hash_old` and `openssl crl
// -hash` print it. A file that cannot be hashed gets one error line and
// makes the exit code 1; the other files are still printed.
func (a *app) hashCommand() *cli.Command {
	return &cli.Command{
		Name:      "hash",
		Usage:     "print the OpenSSL subject hash of certificates (issuer hash of CRLs)",
		ArgsUsage: "FILE...",
		Description: "Each FILE holds one certificate or CRL, PEM or DER (a key or other PEM blocks\n" +
			"beside it are ignored). Prints HASH, two spaces and FILE, HASH being what\n" +
			"`openssl x509 -subject_hash` (or -subject_hash_old with --old) or `openssl crl -hash`\n" +
			"prints for it.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "old", Usage: "print the old (OpenSSL 0.9.8, MD5) hash"},
		},
		Action: func(c *cli.Context) error {
			files, err := positionalArgs(c)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return usageErrorf("hash: no FILE given")
			}
			failed := 0
			for _, path := range files {
				obj, err := hashlink.HashFile(path)
				if err != nil {
					printError(a.stderr, err)
					failed++
					continue
				}
				h := obj.Hash
				if c.Bool("old") {
					h = obj.HashOld
				}
				fmt.Fprintf(a.stdout, "%s  %s\n", hashlink.FormatHash(h), safetext.Quote(path))
			}
			if failed > 0 {
				return &exitError{code: 1, silent: true, err: fmt.Errorf("%d file(s) could not be hashed", failed)}
			}
			return nil
		},
	}
}

// rehashCommand is `certinit rehash [--old|--compat] [-n] [-v] DIR...`: the
// hash links `openssl rehash` makes, made without a moment in which a valid
// link is missing, with a warning for each file skipped.
func (a *app) rehashCommand() *cli.Command {
	return &cli.Command{
		Name:      "rehash",
		Usage:     "create OpenSSL hash links in directories, as openssl rehash does",
		ArgsUsage: "DIR...",
		Description: "Makes HASH.N links to each certificate and HASH.rN links to each CRL in every DIR,\n" +
			"the same set `openssl rehash` (OpenSSL 3) makes: files ending in .pem, .crt, .cer or\n" +
			".crl (any case) holding exactly one PEM certificate or CRL; duplicates (same SHA-1\n" +
			"fingerprint) skipped, the first in name order winning; stale hash links removed.\n" +
			"Unlike openssl it warns about every file it skips, and replaces links by renaming,\n" +
			"so a running TLS server never misses a valid link. Exit status 1 if a directory\n" +
			"cannot be written or a file cannot be read.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "old", Usage: "use the old (OpenSSL 0.9.8, MD5) hash for link names"},
			&cli.BoolFlag{Name: "compat", Usage: "create both new and old hash links"},
			&cli.BoolFlag{Name: "no-remove", Aliases: []string{"n"}, Usage: "do not remove existing hash links"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print each link (as openssl rehash -v)"},
		},
		Action: func(c *cli.Context) error {
			dirs, err := positionalArgs(c)
			if err != nil {
				return err
			}
			if len(dirs) == 0 {
				return usageErrorf("rehash: no DIR given")
			}
			if c.Bool("old") && c.Bool("compat") {
				return usageErrorf("rehash: --old and --compat exclude each other")
			}
			opts := hashlink.Options{
				Old:      c.Bool("old"),
				Compat:   c.Bool("compat"),
				NoRemove: c.Bool("no-remove"),
				Log:      a.log,
			}
			// Every problem is its own error line (exitCode splits the
			// join); a directory that fails before Rehash reads it gets no
			// "Doing DIR", since nothing was done in it.
			var errs []error
			for _, dir := range dirs {
				res, err := hashlink.Rehash(c.Context, dir, opts)
				if err != nil {
					errs = append(errs, err)
				}
				if res != nil && c.Bool("verbose") {
					printRehash(a, dir, res)
				}
			}
			return errors.Join(errs...)
		},
	}
}

// printRehash prints what -v shows for a directory Rehash went through, as
// openssl rehash -v does: "Doing DIR", then every hash link afterwards and
// every link removed. Names are escaped (safetext.Quote): a file name may
// hold a newline.
func printRehash(a *app, dir string, res *hashlink.Result) {
	fmt.Fprintf(a.stdout, "Doing %s\n", safetext.Quote(dir))
	for _, l := range res.Links {
		fmt.Fprintf(a.stdout, "link %s -> %s\n", safetext.Quote(l.Target), l.Name)
	}
	for _, n := range res.Removed {
		fmt.Fprintf(a.stdout, "unlink %s\n", safetext.Quote(n))
	}
}
