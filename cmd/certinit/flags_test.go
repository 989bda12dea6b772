package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/urfave/cli/v2"
)

// placeholder is the back-quoted word of a flag's usage, which the help
// shows after the flag's name ("" when there is none).
func placeholder(f cli.Flag) string {
	usage := f.(cli.DocGenerationFlag).GetUsage()
	if m := regexp.MustCompile("`([^`]+)`").FindStringSubmatch(usage); m != nil {
		return m[1]
	}
	return ""
}

func takesValue(f cli.Flag) bool { return f.(cli.DocGenerationFlag).TakesValue() }

// TestFlagPlaceholders: every flag that takes a value names it with a
// placeholder, the same one wherever the flag's name appears, and a flag
// without a value has none.
func TestFlagPlaceholders(t *testing.T) {
	seen := map[string]string{} // flag name -> "PLACEHOLDER (certinit PATH)"
	walkFlags(func(path string, f cli.Flag) {
		name, ph := f.Names()[0], placeholder(f)
		switch {
		case !takesValue(f) && ph != "":
			t.Errorf("certinit %s --%s takes no value but shows %s", path, name, ph)
		case !takesValue(f):
		case ph == "" || ph == "value":
			t.Errorf("certinit %s --%s takes a value without a placeholder (a back-quoted word in its usage)", path, name)
		default:
			first, ok := seen[name]
			if !ok {
				seen[name] = ph + " (certinit " + path + ")"
			} else if !strings.HasPrefix(first, ph+" (") {
				t.Errorf("certinit %s --%s %s, but --%s %s", path, name, ph, name, first)
			}
		}
	})
	if len(seen) < 20 {
		t.Fatalf("only %d value flags found: the walk missed commands", len(seen))
	}
}

// durationFlags lists every duration flag by command path.
func durationFlags(t *testing.T) map[string][]*cli.GenericFlag {
	t.Helper()
	out := map[string][]*cli.GenericFlag{}
	walkFlags(func(path string, f cli.Flag) {
		if _, ok := f.(*cli.DurationFlag); ok {
			t.Errorf("certinit %s --%s is a cli.DurationFlag: declare it with durationFlag", path, f.Names()[0])
		}
		if g, ok := f.(*cli.GenericFlag); ok {
			if _, ok := g.Value.(*durationValue); ok {
				out[path] = append(out[path], g)
				return
			}
		}
		if placeholder(f) == "DURATION" {
			t.Errorf("certinit %s --%s takes a DURATION but is not declared with durationFlag", path, f.Names()[0])
		}
	})
	return out
}

// TestDurationFlags: on every command, a negative duration, a number
// without a unit, and zero where the help does not say what zero means,
// are usage errors naming the flag, from the command line and from the
// environment; zero is accepted where the help says what it means.
func TestDurationFlags(t *testing.T) {
	all := durationFlags(t)
	if len(all["run"]) < 5 || len(all["probe"]) != 1 || len(all["check"]) != 1 || len(all["acme obtain"]) != 3 {
		t.Fatalf("duration flags found: %v; the walk missed some", all)
	}
	for path, flags := range all {
		for _, f := range flags {
			name := f.Names()[0]
			zeroOK := f.Value.(*durationValue).zeroOK
			if strings.Contains(f.Usage, "; 0 ") != zeroOK {
				t.Errorf("certinit %s --%s: the help says what 0 means: %v; zero accepted: %v", path, name, !zeroOK, zeroOK)
			}
			bad := []string{"-1s", "-2d", "5", "soon"}
			if !zeroOK {
				bad = append(bad, "0", "0s")
			}
			args := strings.Fields(path)
			for _, v := range bad {
				code, _, stderr := runCLI(t, append(args, "--"+name, v)...)
				requireUsageError(t, code, stderr, "--"+name+": ", strconv.Quote(v))
			}
			t.Run(path+" "+name+" from the environment", func(t *testing.T) {
				t.Setenv(envName(name), "-1m")
				code, _, stderr := runCLI(t, args...)
				requireUsageError(t, code, stderr, "--"+name, envName(name), `"-1m"`)
			})
			if zeroOK {
				// A refused value is "--NAME: why"; another mistake may
				// name the flag too (--acme-* without --acme-domain).
				if _, _, stderr := runCLI(t, append(args, "--"+name, "0")...); strings.Contains(stderr, "--"+name+": ") {
					t.Errorf("certinit %s --%s 0 refused: %s", path, name, stderr)
				}
			}
		}
	}
}

// TestDurationUnits: what a duration flag accepts: Go durations and whole
// days; and that the help shows a default in a form it accepts.
func TestDurationUnits(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "0s": 0, "00": 0, "90s": 90 * time.Second, "1h30m": 90 * time.Minute,
		"500ms": 500 * time.Millisecond, "30d": 30 * 24 * time.Hour, "0d": 0,
	} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5", "-1s", "-1d", "1.5d", "d", "1w", "106752d", "99999999999999999999d"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("parseDuration(%q): %q does not quote the value", in, err)
		}
	}
	for _, d := range []time.Duration{0, time.Minute, 90 * time.Minute, 10 * time.Second, 30 * 24 * time.Hour, 36 * time.Hour} {
		if got, err := parseDuration(formatDuration(d)); err != nil || got != d {
			t.Errorf("formatDuration(%v) = %q, which reads back as %v, %v", d, formatDuration(d), got, err)
		}
	}
}

// FuzzDurationFlag runs any value through the path a duration flag's
// value takes on the command line (Go's flag package, durationValue,
// flagError): it is accepted as a duration that is not negative, or
// refused with one line that names the flag with two dashes and quotes
// the value.
func FuzzDurationFlag(f *testing.F) {
	for _, s := range []string{"5", "5s", "-1s", "0", "30d", "1h30m", "\n", `"`, "-wait: x", "9223372036854775807d", "1e3s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set := flag.NewFlagSet("init", flag.ContinueOnError)
		set.SetOutput(io.Discard)
		v := &durationValue{zeroOK: true}
		set.Var(v, "wait", "")
		err := set.Parse([]string{"--wait", s})
		if err == nil {
			if v.d < 0 {
				t.Fatalf("%q accepted as %v", s, v.d)
			}
			if back, err := parseDuration(formatDuration(v.d)); err != nil || back != v.d {
				t.Fatalf("%q = %v prints as %q, read back as %v, %v", s, v.d, formatDuration(v.d), back, err)
			}
			return
		}
		msg := flagError("init", err).Error()
		if !strings.HasPrefix(msg, "init: --wait: ") || !strings.Contains(msg, strconv.Quote(s)) || strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("%q: %q; want one line naming --wait and quoting the value", s, msg)
		}
	})
}

// TestFlagErrors: each way a flag can be wrong is a usage error naming
// the flag as it is written, with two dashes, whether the flag comes
// before the arguments or after them (probe HOST --flag).
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"init", "--wait"}, "--wait"},
		{[]string{"init", "--no-such-flag"}, "--no-such-flag"},
		{[]string{"probe", "localhost", "--timeout"}, "--timeout"},
		{[]string{"probe", "localhost", "--no-such-flag"}, "--no-such-flag"},
		{[]string{"probe", "localhost", "--timeout", "5"}, "--timeout"},
		{[]string{"probe", "localhost", "--json=maybe"}, "--json"},
		{[]string{"rehash", "-n=maybe", "dir"}, "-n"},
		{[]string{"trust", "list", "--json=maybe"}, "--json"},
		{[]string{"--log-level"}, "--log-level"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			requireUsageError(t, code, stderr, tc.flag)
			if strings.Contains(stderr, " -"+strings.TrimLeft(tc.flag, "-")) && len(tc.flag) > 2 {
				t.Errorf("%q names the flag with one dash", stderr)
			}
		})
	}
	t.Setenv("CERTINIT_JSON", "maybe")
	code, _, stderr := runCLI(t, "trust", "list")
	requireUsageError(t, code, stderr, "--json", "CERTINIT_JSON")
}

// ownerCommands are the commands with an --owner flag, with the
// arguments that get them as far as reading it; out is what they would
// create.
func ownerCommands(t *testing.T) (cmds map[string][]string, out []string) {
	dir := t.TempDir()
	cert, key := testutil.WritePair(t, dir, "cert.pem", "key.pem")
	acmeOut, copyDir := filepath.Join(dir, "acme"), filepath.Join(dir, "copy")
	return map[string][]string{
		"acme obtain": {"acme", "obtain", "--issuer", "local", "--domain", "localhost", "--out", acmeOut},
		"init":        {"init", "--cert", cert, "--key", key, "--copy-to", copyDir},
		"run":         {"run", "--cert", cert, "--key", key, "--copy-to", copyDir, "--", "true"},
	}, []string{acmeOut, copyDir}
}

// TestOwnerIDs: on every command with an owner flag, from the command
// line and from CERTINIT_OWNER, an id chown would wrap or read as "no
// change" is a usage error naming --owner and the value, and nothing is
// written.
func TestOwnerIDs(t *testing.T) {
	cmds, out := ownerCommands(t)
	walkFlags(func(path string, f cli.Flag) {
		if n := f.Names()[0]; n == "owner" || strings.HasSuffix(n, "-owner") {
			if _, ok := cmds[path]; !ok {
				t.Errorf("certinit %s --%s is not tested here", path, n)
			}
			if !strings.HasSuffix(f.(cli.DocGenerationFlag).GetUsage(), ownerRule) {
				t.Errorf("certinit %s --%s: its help does not end with ownerRule, which says what happens", path, n)
			}
		}
	})
	for path, args := range cmds {
		for _, spec := range []string{"4294967296", "4294967295", "99999999999", "0:4294967295", "0:4294967296", "-1"} {
			i := slices.Index(args, "--")
			if i < 0 {
				i = len(args)
			}
			withFlag := slices.Concat(args[:i], []string{"--owner", spec}, args[i:])
			code, _, stderr := runCLI(t, withFlag...)
			requireUsageError(t, code, stderr, "--owner", strconv.Quote(spec))
			t.Run(path+" CERTINIT_OWNER="+spec, func(t *testing.T) {
				t.Setenv("CERTINIT_OWNER", spec)
				code, _, stderr := runCLI(t, args...)
				requireUsageError(t, code, stderr, "--owner", strconv.Quote(spec))
			})
		}
	}
	for _, p := range out {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s was created", p)
		}
	}
}

// TestFlagHelpNamesOwnFlags: a flag's help names other flags as the same
// command spells them (under run and init, --acme-out, not acme obtain's
// --out), or global ones, or those of the command named before them
// ("run --metrics-addr").
func TestFlagHelpNamesOwnFlags(t *testing.T) {
	names := map[string]map[string]bool{} // command path -> its flag names
	walkFlags(func(path string, f cli.Flag) {
		if names[path] == nil {
			names[path] = map[string]bool{}
		}
		for _, n := range f.Names() {
			names[path][n] = true
		}
	})
	ref := regexp.MustCompile(`(?:^|[^-\w])(?:(\w+) )?--([a-z0-9][a-z0-9-]*)`)
	checked := 0
	walkFlags(func(path string, f cli.Flag) {
		for _, m := range ref.FindAllStringSubmatch(f.(cli.DocGenerationFlag).GetUsage(), -1) {
			checked++
			if cmd, ok := names[m[1]]; ok && m[1] != "" {
				if !cmd[m[2]] {
					t.Errorf("certinit %s --%s: its help names %s --%s, which %s does not have", path, f.Names()[0], m[1], m[2], m[1])
				}
				continue
			}
			if !names[path][m[2]] && !names[""][m[2]] {
				t.Errorf("certinit %s --%s: its help names --%s, which %s does not have", path, f.Names()[0], m[2], path)
			}
		}
	})
	if checked == 0 {
		t.Fatal("no help names a flag: the walk or the pattern is wrong")
	}
}
