package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/bindtest"
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
		{"dotless for ACME", []string{"--domain", "localhost", "--out", out}, "--domain"},
		{"bad owner", []string{"--domain", "a.example", "--out", out, "--owner", "no-such-user-here"}, "--owner"},
		{"bad key type", []string{"--domain", "a.example", "--out", out, "--key-type", "dsa"}, "--key-type"},
		{"stray argument", []string{"--domain", "a.example", "--out", out, "extra"}, "no arguments"},
		{"wildcard without DNS-01", []string{"--domain", "*.a.example", "--out", out}, "--domain"},
		{"empty label", []string{"--domain", "a..example", "--out", out}, "--domain"},
		{"hook and RFC 2136", []string{"--domain", "a.example", "--out", out, "--dns-hook", "/bin/true",
			"--dns-rfc2136-server", "127.0.0.1:53", "--dns-rfc2136-tsig", "/k"}, "--dns-hook"},
		{"RFC 2136 without a key", []string{"--domain", "a.example", "--out", out, "--dns-rfc2136-server", "127.0.0.1:53"}, "--dns-rfc2136-tsig"},
		{"key file missing", []string{"--domain", "a.example", "--out", out, "--dns-rfc2136-server", "127.0.0.1:53",
			"--dns-rfc2136-tsig", "/nonexistent/tsig.key", "--dns-resolver", "127.0.0.1:53"}, "/nonexistent/tsig.key"},
		{"local validity too long", []string{"--domain", "localhost", "--out", out, "--issuer", "local", "--local-validity", "213504d"}, "--local-validity"},
		{"renew-before of centuries", []string{"--domain", "a.example", "--out", out, "--renew-before", "36500d"}, "--renew-before"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"acme", "obtain"}, tc.args...)...)
			requireUsageError(t, code, stderr, tc.words)
			if strings.Contains(stderr, "--acme-") {
				t.Errorf("acme obtain names a flag of run: %q", stderr)
			}
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
	for _, want := range []string{"acme-domain", "acme-out", "acme-ca", "acme-http-addr", "acme-owner", "acme-renew-before",
		"acme-profile", "acme-force-renewal", "acme-dns-hook", "acme-dns-cleanup-hook", "acme-dns-rfc2136-server",
		"acme-dns-rfc2136-tsig", "acme-dns-resolver", "acme-dns-timeout"} {
		if !names[want] {
			t.Errorf("no --%s among %v", want, names)
		}
	}
	err := app.Run([]string{"run", "--acme-domain", "a.example", "--acme-domain", "b.example", "--acme-out", "/o",
		"--acme-staging", "--acme-ca", "/ca.pem", "--acme-tls-addr", "", "--acme-renew-before", "10d", "--acme-owner", "0:0",
		"--acme-profile", "shortlived", "--acme-force-renewal", "--acme-dns-rfc2136-server", "ns1.example:53",
		"--acme-dns-rfc2136-tsig", "/tsig.key", "--acme-dns-resolver", "127.0.0.1:5353", "--acme-dns-timeout", "30s"})
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
	if got.Profile != "shortlived" || !got.ForceRenewal || got.RFC2136Server != "ns1.example:53" || got.RFC2136TSIG != "/tsig.key" ||
		got.DNSResolver != "127.0.0.1:5353" || got.DNSTimeout != 30*time.Second || got.DNSHook != "" {
		t.Fatalf("profile and DNS-01 options: got %+v", got)
	}
}

// TestAcmeObtainDNS01 runs the command with DNS-01 by RFC 2136 against a
// real BIND, with Pebble validating through it: a name and its wildcard
// in one certificate, the renewal time and its reason in the output, the
// cache used on the second run, --force-renewal, and a profile the CA does
// not offer (exit 2, with the CA's profiles).
func TestAcmeObtainDNS01(t *testing.T) {
	bind := bindtest.Start(t, bindtest.Options{Zones: []string{"example.test"}})
	p := pebbletest.Start(t, pebbletest.Options{DNSServer: bind.Addr})
	out := filepath.Join(t.TempDir(), "certs")
	args := []string{"acme", "obtain", "--domain", "dns.example.test", "--domain", "*.dns.example.test", "--out", out,
		"--directory", p.DirectoryURL, "--acme-ca", p.CAFile, "--http-addr", "", "--tls-addr", "",
		"--dns-rfc2136-server", bind.Addr, "--dns-rfc2136-tsig", bind.KeyFile, "--dns-resolver", bind.Addr}
	serial := func(stdout string) string {
		_, rest, _ := strings.Cut(stdout, "serial ")
		return strings.SplitN(rest, ",", 2)[0]
	}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 || !strings.Contains(stdout, "dns.example.test,*.dns.example.test: issued") ||
		!strings.Contains(stdout, "(the CA's renewal window ") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	first := serial(stdout)
	if vals := bind.TXT(t, "_acme-challenge.dns.example.test"); len(vals) > 0 {
		t.Errorf("TXT records left behind: %v", vals)
	}
	if code, stdout, _ = runCLI(t, args...); code != 0 || !strings.Contains(stdout, ": unchanged,") || serial(stdout) != first {
		t.Fatalf("second run: exit %d, %s", code, stdout)
	}
	if code, stdout, _ = runCLI(t, append(args, "--force-renewal")...); code != 0 || !strings.Contains(stdout, ": issued,") || serial(stdout) == first {
		t.Fatalf("--force-renewal: exit %d, %s", code, stdout)
	}
	// The profile is asked for when certinit orders.
	code, _, stderr = runCLI(t, append(args, "--profile", "sixdays", "--force-renewal")...)
	if code != 2 || !strings.Contains(stderr, `"sixdays"`) || !strings.Contains(stderr, "default (") {
		t.Fatalf("unknown profile: exit %d, stderr %s", code, stderr)
	}
}
