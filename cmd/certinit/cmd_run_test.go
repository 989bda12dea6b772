package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestRunUsage: mistakes in how run and init are called exit 2 (usage),
// a pair that is not there exits 1 naming the file, a COMMAND that does
// not exist exits 127, all before anything is prepared.
func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WritePair(t, dir, "cert.pem", "key.pem")
	missing := filepath.Join(dir, "missing.pem")
	copyDir := filepath.Join(dir, "copy")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"run without command", []string{"run"}, 2, "needs a COMMAND"},
		{"cert without key", []string{"run", "--cert", cert, "--", "true"}, 2, "--cert and --key"},
		{"owner without copy-to", []string{"init", "--cert", cert, "--key", key, "--owner", "0"}, 2, "--owner"},
		{"unknown owner", []string{"init", "--cert", cert, "--key", key, "--copy-to", copyDir, "--owner", "certinit-nobody"}, 2, "no such user"},
		{"bad reload signal", []string{"run", "--reload-signal", "KILL", "--", "true"}, 2, "--reload-signal"},
		{"exec with watch", []string{"run", "--exec", "--watch", dir, "--", "true"}, 2, "--exec"},
		{"init with command", []string{"init", "--", "true"}, 2, "init takes no COMMAND"},
		{"missing certificate", []string{"init", "--cert", missing, "--key", key}, 1, missing},
		{"missing certificate, no --wait", []string{"init", "--cert", missing, "--key", key}, 1, "--wait"},
		{"wait without unit", []string{"init", "--cert", cert, "--key", key, "--wait", "5"}, 2, "--wait"},
		{"command not found", []string{"run", "--cert", missing, "--key", key, "--", "certinit-no-such-command"}, 127, "certinit-no-such-command"},
		{"liveness threshold 0", []string{"run", "--liveness-threshold", "0", "--", "true"}, 2, `--liveness-threshold: "0" must be at least 1`},
		{"liveness threshold not a number", []string{"run", "--liveness-threshold", "three", "--", "true"}, 2, `--liveness-threshold: "three" is not a whole number`},
		{"liveness addr without port", []string{"run", "--liveness-addr", "localhost", "--", "true"}, 2, `--liveness-addr: "localhost"`},
		{"liveness option with the check off", []string{"run", "--liveness-interval", "0", "--liveness-addr", "127.0.0.1:1883", "--", "true"}, 2, "--liveness-interval 0"},
		{"exec with mosquitto-conf", []string{"run", "--exec", "--mosquitto-conf", cert, "--", "true"}, 2, "--exec"},
		{"exec with liveness", []string{"run", "--exec", "--liveness-interval", "5s", "--", "true"}, 2, "--exec"},
		{"missing mosquitto-conf", []string{"run", "--mosquitto-conf", missing, "--", "true"}, 1, missing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			requireErrorLine(t, tc.code, code, stderr, tc.stderr)
		})
	}
}

// TestRunMissingBrokerConf: the -c file on mosquitto's command line is
// read before anything is prepared; when it is not there, run exits 1
// naming it and does not start the broker.
func TestRunMissingBrokerConf(t *testing.T) {
	mosq := testutil.RequireTool(t, "mosquitto")
	missing := filepath.Join(t.TempDir(), "mosquitto.conf")
	code, _, stderr := runCLI(t, "run", "--", mosq, "-c", missing)
	requireErrorLine(t, 1, code, stderr, missing)
}

// TestRunIntegrateUsage: the integration options' mistakes exit 2 before
// anything is written; a --rehash directory that is not there exits 1.
func TestRunIntegrateUsage(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WritePair(t, dir, "cert.pem", "key.pem")
	out, missing := filepath.Join(dir, "out"), filepath.Join(dir, "missing")
	local := []string{"--acme-issuer", "local", "--acme-domain", "localhost", "--acme-out", out}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"trust-store without trust", []string{"init", "--trust-store", "debian"}, 2, "--trust-store applies to --trust"},
		{"unknown trust store", []string{"init", "--trust", cert, "--trust-store", "gentoo"}, 2, "--trust-store: unknown store"},
		{"acme option without domain", []string{"init", "--acme-out", out}, 2, "--acme-out configures --acme-domain"},
		{"acme without out", []string{"init", "--acme-issuer", "local", "--acme-domain", "localhost"}, 2, "--acme-out is required"},
		{"cert with acme", append([]string{"init", "--cert", cert, "--key", key}, local...), 2, "--cert and --acme-domain exclude each other"},
		{"exec with acme", append(append([]string{"run", "--exec"}, local...), "--", "true"), 2, "--exec"},
		{"bad issuer", []string{"init", "--acme-issuer", "self", "--acme-domain", "localhost", "--acme-out", out}, 2, "--acme-issuer"},
		{"renew-before overflow", append([]string{"init", "--acme-renew-before", "36500d"}, local...), 2, "--acme-renew-before"},
		{"empty label", []string{"init", "--acme-domain", "a..example", "--acme-out", out}, 2, "--acme-domain"},
		{"empty label, run", []string{"run", "--acme-domain", "a..example", "--acme-out", out, "--", "true"}, 2, "--acme-domain"},
		{"profile for local", append([]string{"init", "--acme-profile", "shortlived"}, local...), 2, "--acme-profile"},
		{"missing rehash directory", []string{"init", "--rehash", missing}, 1, missing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			requireErrorLine(t, tc.code, code, stderr, tc.stderr)
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("%s was created", out)
			}
		})
	}
}
