package examples

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// shellCommands splits one shell line into simple commands, each a list of
// words after quote removal: split at | ; & (so && and || too), without
// redirections (> FILE, 2>&1) and comments. Enough of sh for the READMEs'
// examples, which use no substitutions or here-documents.
func shellCommands(line string) [][]string {
	var cmds [][]string
	var cur []string
	var word strings.Builder
	inWord, skipNext := false, false
	flushWord := func() {
		if inWord {
			if !skipNext {
				cur = append(cur, word.String())
			}
			skipNext = false
			word.Reset()
			inWord = false
		}
	}
	flushCmd := func() {
		flushWord()
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
		cur = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				j = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '\\' && i+1 < len(line):
			word.WriteByte(line[i+1])
			inWord = true
			i++
		case c == '#' && !inWord:
			flushCmd()
			return cmds
		case c == ' ' || c == '\t':
			flushWord()
		case c == '|' || c == ';' || c == '&':
			flushCmd()
		case c == '>' || c == '<':
			if inWord && strings.Trim(word.String(), "0123456789") == "" {
				word.Reset() // the descriptor of 2>
				inWord = false
			}
			flushWord()
			for i+1 < len(line) && (line[i+1] == '>' || line[i+1] == '&') {
				i++
			}
			skipNext = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	flushCmd()
	return cmds
}

// readmeLines returns the logical lines of a Markdown file's shell code
// blocks (backslash continuations joined) and the `certinit ...` and
// `docker ...` spans of its prose (inline), with their line numbers.
func readmeLines(md string) (lines []string, nums []int, inline []bool) {
	inBlock, acc, start := false, "", 0
	for i, l := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") {
			lang := strings.TrimPrefix(trimmed, "```")
			inBlock = !inBlock && (lang == "sh" || lang == "bash" || lang == "shell")
			continue
		}
		if !inBlock {
			for _, m := range inlineCertinit.FindAllStringSubmatch(l, -1) {
				lines, nums, inline = append(lines, m[1]), append(nums, i+1), append(inline, true)
			}
			continue
		}
		if acc == "" {
			start = i + 1
		}
		if strings.HasSuffix(l, "\\") {
			acc += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		lines, nums, inline = append(lines, acc+l), append(nums, start), append(inline, false)
		acc = ""
	}
	return lines, nums, inline
}

var (
	inlineCertinit = regexp.MustCompile("`((?:certinit|docker) [^`]+)`")
	certinitEnv    = regexp.MustCompile(`CERTINIT_[A-Z0-9_]+`)
)

// TestREADMECommandLines holds every example README to the real command:
// each certinit command line (in shell blocks and in `inline code`) uses
// only commands and flags that `certinit ... --help` lists, each
// CERTINIT_* variable named anywhere is read by some flag, `docker build`
// targets exist, and a `docker run` of our image is checked like a Compose
// service (variables, mounts, the mosquitto.conf it mounts).
func TestREADMECommandLines(t *testing.T) {
	files, _ := filepath.Glob("*/README.md")
	if len(files) == 0 {
		t.Fatal("no README.md under examples/")
	}
	images := loadImages(t)
	for _, f := range files {
		t.Run(filepath.Dir(f), func(t *testing.T) {
			checkREADME(t, f, string(testutil.ReadFile(t, f)), images)
		})
	}
}

// TestDocsCommandLines holds the top-level README and docs/ to the real
// command as TestREADMECommandLines holds the examples (docs/reference.md
// is --help itself), and requires the README to show every command that
// `certinit --help` lists.
func TestDocsCommandLines(t *testing.T) {
	files, _ := filepath.Glob("../docs/*.md")
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "reference.md" })
	files = append(files, "../README.md")
	images := loadImages(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			checkREADME(t, f, string(testutil.ReadFile(t, f)), images)
		})
	}
	readme := string(testutil.ReadFile(t, "../README.md"))
	for _, cmd := range sortedKeys(help(t).subs) {
		if cmd != "help" && cmd != "h" && !strings.Contains(readme, "certinit "+cmd) {
			t.Errorf("README.md never shows certinit %s, which certinit --help lists", cmd)
		}
	}
}

// checkREADME checks the command lines of one README (see
// TestREADMECommandLines).
func checkREADME(t testing.TB, f, md string, images map[string]*image) {
	t.Helper()
	envs := allEnvs(t)
	for _, e := range certinitEnv.FindAllString(md, -1) {
		if !envs[e] && !pendingEnv(e) {
			t.Errorf("%s: %s is read by no certinit flag", f, e)
		}
	}
	lines, nums, inline := readmeLines(md)
	n := 0
	for i, line := range lines {
		for _, words := range shellCommands(line) {
			where := fmt.Sprintf("%s:%d", f, nums[i])
			errorf := func(format string, args ...any) {
				msg := fmt.Sprintf(format, args...)
				if inline[i] && strings.HasSuffix(msg, "needs a value") {
					return // prose names a flag without its value: "`certinit check --mosquitto-conf`"
				}
				t.Errorf("%s: %s", where, msg)
			}
			switch {
			case len(words) > 2 && words[0] == "docker" && words[1] == "build":
				checkDockerBuild(words, images, errorf)
			case len(words) > 2 && words[0] == "docker" && words[1] == "run":
				if g := dockerRun(t, filepath.Dir(f), where, words, images); g != nil {
					checkGroup(t, g)
					n++
				}
			default:
				for j, w := range words {
					if isCertinit(w) {
						parseInvocation(t, words[j:], errorf)
						n++
						break
					}
				}
			}
		}
	}
	if n == 0 {
		t.Errorf("%s shows no certinit command line", f)
	}
}

func TestShellCommands(t *testing.T) {
	tests := map[string]string{
		`certinit embed --name x ca.pem > x.c  # comment`:          "certinit|embed|--name|x|ca.pem",
		`docker compose logs m | grep -E 'a|b' 2>&1`:               "docker|compose|logs|m;grep|-E|a|b",
		`a "b c" && d 2> /dev/null; e`:                             "a|b c;d;e",
		`-e "$PWD/m.conf:/m.conf:ro" x\ y`:                         "-e|$PWD/m.conf:/m.conf:ro|x y",
		`certinit probe h:8883 --capath /etc/ssl/certs   # from x`: "certinit|probe|h:8883|--capath|/etc/ssl/certs",
	}
	for in, want := range tests {
		var cmds []string
		for _, c := range shellCommands(in) {
			cmds = append(cmds, strings.Join(c, "|"))
		}
		if got := strings.Join(cmds, ";"); got != want {
			t.Errorf("shellCommands(%q) = %q, want %q", in, got, want)
		}
	}
}

// allEnvs lists the variables every certinit command reads.
func allEnvs(t testing.TB) map[string]bool {
	t.Helper()
	envs := map[string]bool{}
	var walk func(path []string)
	walk = func(path []string) {
		h := help(t, path...)
		for e := range h.envs {
			envs[e] = true
		}
		for s := range h.subs {
			if s != "help" && s != "h" {
				walk(append(append([]string{}, path...), s))
			}
		}
	}
	walk(nil)
	return envs
}

func pendingEnv(env string) bool {
	flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "CERTINIT_")), "_", "-")
	for cmd := range pendingFlags {
		if isPending(cmd, flag) {
			return true
		}
	}
	return false
}

// checkDockerBuild requires `docker build --target T -t NAME` to build a
// stage that exists and that imageStages maps NAME to.
func checkDockerBuild(words []string, images map[string]*image, errorf func(string, ...any)) {
	var target, tag string
	for i := 2; i+1 < len(words); i++ {
		switch words[i] {
		case "--target":
			target = words[i+1]
		case "-t", "--tag":
			tag = words[i+1]
		}
	}
	if target != "" && images[target] == nil {
		errorf("docker build --target %s: no such Dockerfile stage", target)
	}
	if target != "" && tag != "" && imageStages[filepath.Base(tag)] != target {
		errorf("docker build tags stage %s as %s, but imageStages maps %s to %q", target, tag, filepath.Base(tag), imageStages[filepath.Base(tag)])
	}
}

// dockerRunValueOptions are the `docker run` options the READMEs use that
// take a value.
var dockerRunValueOptions = map[string]bool{
	"-e": true, "--env": true, "-v": true, "--volume": true, "-p": true, "--publish": true,
	"--name": true, "--network": true, "-u": true, "--user": true, "-w": true, "--workdir": true,
	"--restart": true, "--entrypoint": true,
}

// dockerRun turns a `docker run` line into a one-container group; nil for
// an image that is not ours.
func dockerRun(t testing.TB, dir, where string, words []string, images map[string]*image) *group {
	t.Helper()
	errorf := func(format string, args ...any) { t.Errorf("%s: %s", where, fmt.Sprintf(format, args...)) }
	g := &group{where: where, volumes: map[string]*volume{}}
	c := &container{where: where, env: map[string]string{}, ports: []int{}, published: map[int]int{}}
	i := 2
	var entrypoint []string
	for ; i < len(words) && strings.HasPrefix(words[i], "-"); i++ {
		opt, val := words[i], ""
		if dockerRunValueOptions[opt] && i+1 < len(words) {
			i++
			val = words[i]
		}
		switch opt {
		case "-e", "--env":
			k, v, _ := strings.Cut(val, "=")
			c.env[k] = v
		case "-v", "--volume":
			val = strings.ReplaceAll(val, "$PWD", ".")
			if src, _, _ := strings.Cut(val, ":"); !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				g.volumes[src] = &volume{name: src, kind: "named"} // docker creates it on first use
			}
			c.mounts = append(c.mounts, composeMount(g, dir, val, errorf))
		case "-p", "--publish":
			publish(c, strings.TrimSuffix(val, "/tcp"), errorf)
		case "--entrypoint":
			entrypoint = []string{val}
		}
	}
	if i >= len(words) {
		errorf("docker run without an image")
		return nil
	}
	img, known := imageFor(images, words[i])
	if !known {
		errorf("image %s is neither built by the Dockerfile nor listed in foreignImages", words[i])
	}
	if img == nil {
		return nil
	}
	c.image = img
	for k, v := range img.env {
		if _, set := c.env[k]; !set {
			c.env[k] = v
		}
	}
	cmd := img.cmd
	if entrypoint == nil {
		entrypoint = img.entrypoint
	} else {
		cmd = nil
	}
	if len(words) > i+1 {
		cmd = words[i+1:]
	}
	c.argv = append(append(c.argv, entrypoint...), cmd...)
	g.containers = append(g.containers, c)
	return g
}
