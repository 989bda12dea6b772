package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/embed"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
)

func (a *app) embedCommand() *cli.Command {
	return &cli.Command{
		Name:      "embed",
		Usage:     "write a certificate as C source for mbedTLS",
		ArgsUsage: "FILE",
		Description: "Writes C source to standard output: for c-pem, `const char IDENT[]` (PEM with \\r\\n\n" +
			"line ends, NUL-terminated, for mbedtls_x509_crt_parse) and `const size_t IDENT_len`\n" +
			"(including the NUL); for c-der, `const unsigned char IDENT[]` and IDENT_len for\n" +
			"mbedtls_x509_crt_parse_der. Several certificates become one PEM string (c-der\n" +
			"takes one). A comment records subject, expiry and SHA-256 fingerprint. The arrays\n" +
			"link from C and C++ (external, C linkage); --header writes their declarations to a\n" +
			"header for other files to include. A certificate that is not a CA gets a warning:\n" +
			"as a trust anchor it breaks at its next renewal.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: string(embed.FormatPEM), Usage: "`FORMAT` of the C source: c-pem or c-der"},
			&cli.StringFlag{Name: "name", Usage: "C identifier `IDENT` of the array (default: from the file name)"},
			&cli.StringFlag{Name: "header", Usage: "also write a header declaring the array to `FILE`; the source includes it"},
		},
		Action: a.embed,
	}
}

func (a *app) embed(c *cli.Context) error {
	args, err := positionalArgs(c)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usageErrorf("embed: want exactly one FILE, got %d arguments", len(args))
	}
	path := args[0]
	f := embed.Format(c.String("format"))
	if f != embed.FormatPEM && f != embed.FormatDER {
		return usageErrorf("embed: --format must be c-pem or c-der, not %q", f)
	}
	name := c.String("name")
	if name == "" {
		name = embed.DefaultName(path)
	}
	if err := embed.ValidIdent(name); err != nil {
		return usageErrorf("embed: --name: %v", err)
	}
	var data []byte
	source := path
	if path == "-" {
		data, err = readAllLimited(os.Stdin)
		source = "" // "standard input" in the comment
	} else {
		data, err = pemfile.ReadFile(path)
	}
	if err != nil {
		return err
	}
	opts := embed.Options{Format: f, Name: name, Source: source, Header: c.String("header"), Log: a.log}
	src, err := embed.Generate(data, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if opts.Header != "" {
		h, err := embed.Header(opts)
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(opts.Header, h, 0o644); err != nil {
			return err
		}
	}
	_, err = a.stdout.Write(src)
	return err
}
