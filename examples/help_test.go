package examples

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// pendingFlags are flags of DESIGN.md's command contract that an example
// may use before certinit has them, by command ("run": {"flag"}); empty
// while certinit has every flag the examples use. Only these exact names
// are excused, only for these commands; a listed flag that the binary has
// makes TestPendingFlags fail, so the list cannot outlive its reason. The
// run tests (TestBrokerContainers, TestACMEContainers) apply no pending
// flag: an example that needs one is not run for real until it exists.
var pendingFlags = map[string][]string{}

func isPending(cmd, flag string) bool { return slices.Contains(pendingFlags[cmd], flag) }

// flagHelp is one flag as `certinit ... --help` lists it.
type flagHelp struct {
	takesValue bool     // the help shows a placeholder after the name
	envs       []string // the [$CERTINIT_...] variables it reads
}

// cmdHelp is what `certinit PATH... --help` says about one command.
type cmdHelp struct {
	path  string               // "run", "acme obtain"; "" for the top level
	flags map[string]*flagHelp // by every name, without dashes
	envs  map[string]string    // CERTINIT_X -> flag name
	subs  map[string]bool      // subcommand names
}

// helpCache holds parsed help output per command path, for the whole test
// binary: the help text is the contract the examples are held to.
var helpCache sync.Map

// help runs `certinit PATH... --help` and parses its OPTIONS (or GLOBAL
// OPTIONS) and COMMANDS sections.
func help(t testing.TB, path ...string) *cmdHelp {
	t.Helper()
	key := strings.Join(path, " ")
	if h, ok := helpCache.Load(key); ok {
		return h.(*cmdHelp)
	}
	out := mustCertinit(t, append(slices.Clone(path), "--help")...)
	h := parseHelp(key, out)
	if len(h.flags) == 0 {
		t.Fatalf("certinit %s --help lists no flags:\n%s", key, out)
	}
	helpCache.Store(key, h)
	return h
}

var (
	helpSection = regexp.MustCompile(`^([A-Z][A-Z ]*):\s*$`)
	helpEnvs    = regexp.MustCompile(`\[(\$[A-Z0-9_]+(?:, \$[A-Z0-9_]+)*)\]\s*$`)
	helpColumns = regexp.MustCompile(`\s{2,}`)
)

func parseHelp(path, out string) *cmdHelp {
	h := &cmdHelp{path: path, flags: map[string]*flagHelp{}, envs: map[string]string{}, subs: map[string]bool{}}
	section := ""
	for _, line := range strings.Split(out, "\n") {
		if m := helpSection.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		text := strings.TrimSpace(line)
		if text == "" {
			continue
		}
		switch section {
		case "COMMANDS":
			names := helpColumns.Split(text, 2)[0]
			for _, n := range strings.Split(names, ",") {
				h.subs[strings.TrimSpace(n)] = true
			}
		case "OPTIONS", "GLOBAL OPTIONS":
			if !strings.HasPrefix(text, "-") {
				continue // a wrapped description line
			}
			f := &flagHelp{}
			var names []string
			for _, w := range strings.Fields(helpColumns.Split(text, 2)[0]) {
				if w == "[" {
					break // "[ --watch PATH ]": the repeatable form
				}
				if strings.HasPrefix(w, "-") {
					names = append(names, strings.TrimLeft(strings.TrimSuffix(w, ","), "-"))
				} else {
					f.takesValue = true
				}
			}
			if m := helpEnvs.FindStringSubmatch(text); m != nil {
				for _, e := range strings.Split(m[1], ", ") {
					f.envs = append(f.envs, strings.TrimPrefix(e, "$"))
				}
			}
			for _, n := range names {
				h.flags[n] = f
				for _, e := range f.envs {
					h.envs[e] = n
				}
			}
		}
	}
	return h
}

// invocation is a certinit command line from an example, checked.
type invocation struct {
	cmd   *cmdHelp
	flags map[string][]string // flag name -> values given on the command line
	args  []string            // positional arguments
	child []string            // COMMAND after "--" (run)
}

func (inv *invocation) value(flag string) string {
	if v := inv.flags[flag]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// isCertinit reports whether a command word runs certinit.
func isCertinit(word string) bool {
	return filepath.Base(word) == "certinit" && !strings.ContainsAny(word, "=:")
}

// parseInvocation checks argv (argv[0] is certinit) against the help of
// the command it names: every flag must be listed there (or in
// pendingFlags). It reports every problem through errorf and returns what
// it understood.
func parseInvocation(t testing.TB, argv []string, errorf func(format string, args ...any)) *invocation {
	t.Helper()
	root := help(t)
	i := 1
	alone := false // --version or --help: no command needed
	for ; i < len(argv) && strings.HasPrefix(argv[i], "-") && argv[i] != "--"; i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(argv[i], "-"), "=")
		f, ok := root.flags[name]
		if !ok {
			errorf("certinit has no global flag %s (certinit --help)", argv[i])
			continue
		}
		alone = alone || name == "version" || name == "help" || name == "h"
		if f.takesValue && !hasValue {
			i++
		}
	}
	cur, path := root, []string{}
	for i < len(argv) && cur.subs[argv[i]] {
		path = append(path, argv[i])
		cur = help(t, path...)
		i++
	}
	inv := &invocation{cmd: cur, flags: map[string][]string{}}
	if cur == root {
		if !alone || i < len(argv) {
			errorf("%q names no certinit command (certinit --help lists them)", strings.Join(argv, " "))
		}
		return inv
	}
	for ; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			inv.child = argv[i+1:]
			break
		}
		if len(a) < 2 || a[0] != '-' {
			inv.args = append(inv.args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f, known := cur.flags[name]
		takes := known && f.takesValue
		if !known {
			if !isPending(cur.path, name) {
				errorf("certinit %s has no flag %s (certinit %s --help lists %s)", cur.path, a, cur.path, flagList(cur))
				continue
			}
			// A pending flag: a value follows unless the next word is a flag.
			takes = i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-")
		}
		if takes && !hasValue {
			if i+1 >= len(argv) {
				errorf("certinit %s: %s needs a value", cur.path, a)
				break
			}
			i++
			value = argv[i]
		}
		inv.flags[name] = append(inv.flags[name], value)
	}
	return inv
}

// envFlag maps a CERTINIT_* variable to the flag of cmd (or a global flag)
// that reads it, checking that the help names that variable.
func envFlag(t testing.TB, cmd *cmdHelp, env string) (string, error) {
	t.Helper()
	if f, ok := cmd.envs[env]; ok {
		return f, nil
	}
	if f, ok := help(t).envs[env]; ok {
		return f, nil
	}
	flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "CERTINIT_")), "_", "-")
	if isPending(cmd.path, flag) {
		return flag, nil
	}
	if _, ok := cmd.flags[flag]; ok {
		return "", fmt.Errorf("certinit %s --%s exists but its help names no $%s", cmd.path, flag, env)
	}
	return "", fmt.Errorf("%s names no flag of certinit %s (its help lists %s)", env, cmd.path, flagList(cmd))
}

func flagList(c *cmdHelp) string {
	var names []string
	for n := range c.flags {
		if len(n) > 1 && n != "help" {
			names = append(names, "--"+n)
		}
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

// TestPendingFlags keeps pendingFlags honest: a flag listed there that
// certinit now has must leave the list.
func TestPendingFlags(t *testing.T) {
	for _, cmd := range sortedKeys(pendingFlags) {
		h := help(t, strings.Fields(cmd)...)
		for _, f := range pendingFlags[cmd] {
			if _, ok := h.flags[f]; ok {
				t.Errorf("certinit %s now has --%s: remove it from pendingFlags", cmd, f)
			}
		}
	}
}

// TestHelpParser makes sure the parser reads the help the way the checks
// rely on: if certinit's help format changed, every flag would otherwise be
// "unknown" or, worse, nothing would be checked.
func TestHelpParser(t *testing.T) {
	run := help(t, "run")
	for flag, wantValue := range map[string]bool{"cert": true, "copy-to": true, "watch": true, "exec": false} {
		f, ok := run.flags[flag]
		if !ok {
			t.Fatalf("run --help parsed without --%s: %s", flag, flagList(run))
		}
		if f.takesValue != wantValue {
			t.Errorf("--%s takesValue = %v, want %v", flag, f.takesValue, wantValue)
		}
	}
	if run.envs["CERTINIT_COPY_TO"] != "copy-to" {
		t.Errorf("CERTINIT_COPY_TO maps to %q, want copy-to", run.envs["CERTINIT_COPY_TO"])
	}
	if !help(t).subs["acme"] || !help(t, "acme").subs["obtain"] {
		t.Error("COMMANDS sections not parsed: acme obtain not found")
	}
	if help(t).envs["CERTINIT_LOG_FORMAT"] != "log-format" {
		t.Error("GLOBAL OPTIONS not parsed: CERTINIT_LOG_FORMAT")
	}
	var problems []string
	inv := parseInvocation(t, strings.Fields("/usr/local/bin/certinit --log-level debug run --cert a.pem --renamed x --exec -- mosquitto -c m.conf"),
		func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
	if inv.cmd.path != "run" || inv.value("cert") != "a.pem" || len(inv.flags["exec"]) != 1 ||
		strings.Join(inv.child, " ") != "mosquitto -c m.conf" {
		t.Errorf("parseInvocation: %+v", inv)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "--renamed") {
		t.Errorf("problems = %q, want one about --renamed", problems)
	}
	for line, want := range map[string]int{"certinit --version": 0, "certinit --log-level debug": 1, "certinit --version frob": 1} {
		problems = nil
		parseInvocation(t, strings.Fields(line), func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
		if len(problems) != want {
			t.Errorf("%q: problems %q, want %d", line, problems, want)
		}
	}
}
