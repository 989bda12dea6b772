package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/urfave/cli/v2"
)

func TestAcmeObtainUsage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		name  string
		args  []string
		words string
	}{
		{"no domain", []string{"--out", out}, "--domain is required"},
		{"no out", []string{"--domain", "a.example"}, "--out is required"},
		{"staging and directory", []string{"--domain", "a.example", "--out", out, "--staging", "--directory", "https://ca.example/dir"}, "exclude each other"},
		{"bad renew-before", []string{"--domain", "a.example", "--out", out, "--renew-before", "soon"}, "--renew-before"},
		{"dotless for ACME", []string{"--domain", "localhost", "--out", out}, "local issuer"},
		{"bad owner", []string{"--domain", "a.example", "--out", out, "--owner", "no-such-user-here"}, "--owner"},
		{"bad key type", []string{"--domain", "a.example", "--out", out, "--key-type", "dsa"}, "key type"},
		{"stray argument", []string{"--domain", "a.example", "--out", out, "extra"}, "no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"acme", "obtain"}, tc.args...)...)
			requireUsageError(t, code, stderr, tc.words)
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("usage error created %s", out)
			}
		})
	}
}

// TestAcmeObtainLocal configures through environment variables, as a
// container would.
func TestAcmeObtainLocal(t *testing.T) {
	out := filepath.Join(t.TempDir(), "certs")
	t.Setenv("CERTINIT_ISSUER", "local")
	t.Setenv("CERTINIT_DOMAIN", "localhost,127.0.0.1")
	t.Setenv("CERTINIT_OUT", out)
	code, stdout, stderr := runCLI(t, "acme", "obtain")
	if code != 0 || !strings.Contains(stdout, "localhost,127.0.0.1: issued") || !strings.Contains(stdout, "local CA: "+out+".cache/local/ca.pem") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, f := range []string{acme.CertFile, acme.ChainFile, acme.FullChainFile, acme.KeyFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	code, stdout, _ = runCLI(t, "acme", "obtain")
	if code != 0 || !strings.Contains(stdout, ": unchanged,") {
		t.Fatalf("second run: exit %d, %s", code, stdout)
	}
}

// TestAcmeObtainPebble runs the command against a real Pebble: success,
// then the CA down with the files gone (exit 1, one clear line, nothing
// written).
func TestAcmeObtainPebble(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	out := filepath.Join(t.TempDir(), "certs")
	args := []string{"acme", "obtain", "--domain", "cli.certinit.test", "--out", out,
		"--directory", p.DirectoryURL, "--acme-ca", p.CAFile, "--email", "ops@certinit.test",
		"--http-addr", p.HTTPAddr(), "--tls-addr", "", "--key-type", "rsa"}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 || !strings.Contains(stdout, "cli.certinit.test: issued") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, acme.FullChainFile)); err != nil {
		t.Fatal(err)
	}

	p.Stop()
	out2 := filepath.Join(t.TempDir(), "certs")
	args2 := slices.Clone(args)
	args2[slices.Index(args2, out)] = out2
	code, _, stderr = runCLI(t, args2...)
	last := strings.TrimSpace(stderr[strings.LastIndex(strings.TrimSpace(stderr), "\n")+1:])
	if code != 1 || !strings.HasPrefix(last, "certinit: "+p.DirectoryURL+": ACME CA unreachable") {
		t.Fatalf("CA down: exit %d, last line %q", code, last)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Fatalf("failure created %s", out2)
	}
}

// TestAcmeFlagsPrefix: the run command's --acme- options build the same
// Config as obtain's.
func TestAcmeFlagsPrefix(t *testing.T) {
	var got acme.Config
	app := &cli.App{
		Flags: acmeFlags("acme-"),
		Action: func(c *cli.Context) (err error) {
			got, err = acmeConfig(c, "acme-")
			return err
		},
	}
	names := map[string]bool{}
	for _, f := range app.Flags {
		names[f.Names()[0]] = true
	}
	for _, want := range []string{"acme-domain", "acme-out", "acme-ca", "acme-http-addr", "acme-owner", "acme-renew-before"} {
		if !names[want] {
			t.Errorf("no --%s among %v", want, names)
		}
	}
	err := app.Run([]string{"run", "--acme-domain", "a.example", "--acme-domain", "b.example", "--acme-out", "/o",
		"--acme-staging", "--acme-ca", "/ca.pem", "--acme-tls-addr", "", "--acme-renew-before", "10d", "--acme-owner", "0:0"})
	if err != nil {
		t.Fatal(err)
	}
	want := acme.Config{Domains: []string{"a.example", "b.example"}, Out: "/o", Issuer: "acme",
		DirectoryURL: acme.LetsEncryptStagingURL, HTTPAddr: ":80", KeyType: "ecdsa", ACMECAFile: "/ca.pem",
		RenewBefore: 10 * 24 * time.Hour, LocalValidity: 90 * 24 * time.Hour, Owner: &owner.Owner{Spec: "0:0"}}
	if strings.Join(got.Domains, " ") != strings.Join(want.Domains, " ") || got.Out != want.Out ||
		got.DirectoryURL != want.DirectoryURL || got.HTTPAddr != want.HTTPAddr || got.TLSAddr != "" ||
		got.ACMECAFile != want.ACMECAFile || got.RenewBefore != want.RenewBefore ||
		got.LocalValidity != want.LocalValidity || got.Owner == nil || *got.Owner != *want.Owner || got.KeyType != want.KeyType {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}
