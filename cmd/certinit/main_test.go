package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runCLI runs certinit in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"certinit"}, args...), &out, &errOut)
	code := exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"version", []string{"version"}, 0},
		{"unknown command", []string{"no-such-command"}, 2},
		{"unknown flag", []string{"version", "--no-such-flag"}, 2},
		{"bad log level", []string{"--log-level", "loud", "version"}, 2},
		{"bad log format", []string{"--log-format", "xml", "version"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.want, stderr)
			}
		})
	}
}

// TestEveryFlagHasEnvVar checks the contract: every flag of every command
// also reads CERTINIT_<FLAG>.
func TestEveryFlagHasEnvVar(t *testing.T) {
	a := &app{}
	c := a.newCLI()
	var check func(path string, flags []cli.Flag)
	check = func(path string, flags []cli.Flag) {
		for _, f := range flags {
			name := f.Names()[0]
			ev, ok := f.(interface{ GetEnvVars() []string })
			if !ok || len(ev.GetEnvVars()) == 0 || ev.GetEnvVars()[0] != envName(name) {
				t.Errorf("%s --%s: no %s environment variable", path, name, envName(name))
			}
			if !strings.HasPrefix(envName(name), "CERTINIT_") {
				t.Errorf("bad env name %s", envName(name))
			}
		}
	}
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			p := path + " " + cmd.Name
			check(p, cmd.Flags)
			walk(p, cmd.Subcommands)
		}
	}
	check("certinit", c.Flags)
	walk("certinit", c.Commands)
}
