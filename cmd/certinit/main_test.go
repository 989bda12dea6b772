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

// requireUsageError fails unless certinit exited 2 (usage) with one line
// on standard error, prefixed "certinit: " once, that contains every one
// of names (the flags or paths at fault).
func requireUsageError(t *testing.T, code int, stderr string, names ...string) {
	t.Helper()
	requireErrorLine(t, 2, code, stderr, names...)
}

// requireErrorLine is requireUsageError for exit code want.
func requireErrorLine(t *testing.T, want, code int, stderr string, names ...string) {
	t.Helper()
	line := strings.TrimSuffix(stderr, "\n")
	switch {
	case code != want:
		t.Errorf("exit %d, want %d; stderr %q", code, want, stderr)
	case strings.Contains(line, "\n") || !strings.HasSuffix(stderr, "\n"):
		t.Errorf("stderr is not one line: %q", stderr)
	case !strings.HasPrefix(line, "certinit: ") || strings.Count(line, "certinit:") != 1:
		t.Errorf("stderr %q: want the prefix \"certinit: \" once", line)
	}
	for _, n := range names {
		if !strings.Contains(line, n) {
			t.Errorf("stderr %q does not name %s", line, n)
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"version", []string{"version"}, 0},
		{"version flag", []string{"--version"}, 0},
		{"unknown command", []string{"no-such-command"}, 2},
		{"help for an unknown command", []string{"help", "no-such-command"}, 2},
		{"unknown subcommand", []string{"trust", "no-such-command"}, 2},
		{"unknown flag", []string{"version", "--no-such-flag"}, 2},
		{"unknown global flag", []string{"--no-such-flag", "version"}, 2},
		{"bad log level", []string{"--log-level", "loud", "version"}, 2},
		{"bad log format", []string{"--log-format", "xml", "version"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if tc.want == 0 {
				if code != 0 {
					t.Fatalf("exit %d, want 0 (stderr %q)", code, stderr)
				}
				return
			}
			requireErrorLine(t, tc.want, code, stderr)
		})
	}
}

// TestNoCommand: certinit without a command, or trust and acme without
// theirs, print their help to standard error and exit 2, as any other
// usage error; --help still prints it to standard output and exits 0.
func TestNoCommand(t *testing.T) {
	for _, args := range [][]string{nil, {"--log-level", "debug"}, {"trust"}, {"acme"}} {
		t.Run(strings.Join(append([]string{"certinit"}, args...), " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, args...)
			if code != 2 || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing on stdout", code, stdout)
			}
			help, last, _ := strings.Cut(strings.TrimSuffix(stderr, "\n"), "\ncertinit: ")
			if !strings.Contains(help, "\nCOMMANDS:\n") || strings.Contains(last, "\n") {
				t.Fatalf("stderr %q: want the help with its COMMANDS, then one certinit: line", stderr)
			}
			code, stdout, _ = runCLI(t, append(args, "--help")...)
			if code != 0 || !strings.Contains(stdout, "\nCOMMANDS:\n") {
				t.Fatalf("--help: exit %d, stdout %q; want 0 and the help", code, stdout)
			}
		})
	}
}

// TestVersionFlag: --version prints what the version command prints,
// before any command runs, and CERTINIT_VERSION (an image may set it to
// its own version) does not turn it on or break other commands.
func TestVersionFlag(t *testing.T) {
	_, want, _ := runCLI(t, "version")
	if !strings.HasPrefix(want, "certinit ") {
		t.Fatalf("certinit version printed %q", want)
	}
	for _, args := range [][]string{{"--version"}, {"--log-level", "debug", "--version"}, {"--version", "hash"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || stdout != want || stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and %q", args, code, stdout, stderr, want)
		}
	}
	t.Setenv("CERTINIT_VERSION", "1.2.3")
	if code, stdout, stderr := runCLI(t, "hash"); code != 2 || stdout != "" {
		t.Errorf("hash with CERTINIT_VERSION set: exit %d, stdout %q, stderr %q; want hash's own usage error", code, stdout, stderr)
	}
}

// walkFlags calls fn for every flag of certinit and its commands, with the
// command's path ("" for the global flags, "trust install").
func walkFlags(fn func(path string, f cli.Flag)) {
	c := (&app{}).newCLI()
	for _, f := range c.Flags {
		fn("", f)
	}
	var walk func(parent string, cmds []*cli.Command)
	walk = func(parent string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			p := strings.TrimSpace(parent + " " + cmd.Name)
			for _, f := range cmd.Flags {
				fn(p, f)
			}
			walk(p, cmd.Subcommands)
		}
	}
	walk("", c.Commands)
}

// TestEveryFlagHasEnvVar checks the contract: every flag of every command
// also reads CERTINIT_<FLAG>, except --version (hasNoEnvVar).
func TestEveryFlagHasEnvVar(t *testing.T) {
	walkFlags(func(path string, f cli.Flag) {
		name := f.Names()[0]
		ev, ok := f.(interface{ GetEnvVars() []string })
		hasEnv := ok && len(ev.GetEnvVars()) == 1 && ev.GetEnvVars()[0] == envName(name)
		if hasEnv == hasNoEnvVar(f) {
			t.Errorf("certinit %s --%s: environment variables %v, want %s unless it is --version", path, name, ev.GetEnvVars(), envName(name))
		}
	})
}
