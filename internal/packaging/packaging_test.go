package packaging

import (
	"bufio"
	"debug/buildinfo"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// stage is one FROM block of the Dockerfile.
type stage struct {
	name, base string
	lines      []string // instructions, continuation lines joined
}

// parseDockerfile reads FROM stages and their instructions, joining
// backslash-continued lines; enough of the syntax for the checks below.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cur string
	sc := bufio.NewScanner(f)
	flush := func() {
		line := strings.TrimSpace(cur)
		cur = ""
		if line == "" || strings.HasPrefix(line, "#") {
			return
		}
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			s := stage{base: fields[1]}
			if len(fields) >= 4 && strings.EqualFold(fields[2], "AS") {
				s.name = fields[3]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			return // ARG before FROM
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
	}
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "#") && cur == "" {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		cur += l
		flush()
	}
	flush()
	return stages
}

func TestDockerfileStages(t *testing.T) {
	root := testutil.ModuleRoot(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	byName := map[string]stage{}
	for _, s := range stages {
		byName[s.name] = s
	}
	for _, want := range []string{"build", "certinit", "mosquitto"} {
		if _, ok := byName[want]; !ok {
			t.Fatalf("Dockerfile has no stage %q", want)
		}
	}
	if byName["certinit"].base != "scratch" {
		t.Errorf("certinit stage is FROM %s, want scratch", byName["certinit"].base)
	}
	if !strings.HasPrefix(byName["mosquitto"].base, "eclipse-mosquitto:2") {
		t.Errorf("mosquitto stage is FROM %s, want eclipse-mosquitto:2", byName["mosquitto"].base)
	}
	fromRe := regexp.MustCompile(`--from=(\S+)`)
	for _, s := range stages {
		for _, l := range s.lines {
			fields := strings.Fields(l)
			switch strings.ToUpper(fields[0]) {
			case "COPY":
				if m := fromRe.FindStringSubmatch(l); m != nil {
					if _, ok := byName[m[1]]; !ok {
						t.Errorf("stage %s: COPY --from=%s names no stage", s.name, m[1])
					}
					continue
				}
				// Sources from the build context must exist in the repository.
				var args []string
				for _, f := range fields[1:] {
					if !strings.HasPrefix(f, "--") {
						args = append(args, f)
					}
				}
				for _, src := range args[:len(args)-1] {
					if src == "." {
						continue
					}
					if _, err := os.Stat(filepath.Join(root, src)); err != nil {
						t.Errorf("stage %s: COPY source %s: %v", s.name, src, err)
					}
				}
			case "ENTRYPOINT":
				var argv []string
				if err := json.Unmarshal([]byte(strings.TrimSpace(l[len(fields[0]):])), &argv); err != nil {
					t.Errorf("stage %s: ENTRYPOINT is not exec form: %v", s.name, err)
					continue
				}
				if s.name == "mosquitto" && (len(argv) < 3 || argv[1] != "run" || argv[len(argv)-1] != "--") {
					t.Errorf("mosquitto ENTRYPOINT %q: want [certinit run ... --]", argv)
				}
			}
		}
	}
}

// buildCommand returns the Dockerfile's `go build` command line.
func buildCommand(t *testing.T, root string) string {
	t.Helper()
	for _, s := range parseDockerfile(t, filepath.Join(root, "Dockerfile")) {
		for _, l := range s.lines {
			if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
				return strings.TrimPrefix(l, "RUN ")
			}
		}
	}
	t.Fatal("no RUN ... go build in the Dockerfile")
	return ""
}

// shippedBuild are the parts of the go build command that shape the
// shipped binary; `make build` and the Dockerfile must both have them.
// urfave_cli_no_docs leaves out urfave/cli's man page and Markdown
// generators (blackfriday, go-md2man): nothing calls them, and their
// package initialisation cost every start of `certinit run` about 3 ms of
// CPU.
var shippedBuild = []string{"CGO_ENABLED=0", "go build", "-tags urfave_cli_no_docs", "-trimpath", "-ldflags="}

// docDeps are the modules urfave_cli_no_docs keeps out of the binary.
var docDeps = []string{"github.com/russross/blackfriday", "github.com/cpuguy83/go-md2man"}

// makeBuildCommand returns the Makefile's build recipe line.
func makeBuildCommand(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "build:") && i+1 < len(lines) {
			return strings.Replace(strings.TrimSpace(lines[i+1]), "$(GO) build", "go build", 1)
		}
	}
	t.Fatal("no build target in the Makefile")
	return ""
}

// checkShippedBinary fails unless bin was built with the shipped build
// tags and without the modules they leave out.
func checkShippedBinary(t *testing.T, bin string) {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	tags := ""
	for _, s := range info.Settings {
		if s.Key == "-tags" {
			tags = s.Value
		}
	}
	if !slices.Contains(strings.Split(tags, ","), "urfave_cli_no_docs") {
		t.Errorf("%s: built with tags %q, want urfave_cli_no_docs", bin, tags)
	}
	for _, d := range info.Deps {
		for _, bad := range docDeps {
			if strings.HasPrefix(d.Path, bad) {
				t.Errorf("%s: links %s, which urfave_cli_no_docs leaves out", bin, d.Path)
			}
		}
	}
}

// TestShippedBuildCommands: `make build`, the Dockerfile and the tests'
// testutil.BuildCertinit build the same program: the same tags, static,
// with reproducible paths.
func TestShippedBuildCommands(t *testing.T) {
	root := testutil.ModuleRoot(t)
	for name, cmdline := range map[string]string{"Makefile": makeBuildCommand(t, root), "Dockerfile": buildCommand(t, root)} {
		for _, want := range shippedBuild {
			if !strings.Contains(cmdline, want) {
				t.Errorf("%s builds with %q: no %q", name, cmdline, want)
			}
		}
	}
	checkShippedBinary(t, testutil.BuildCertinit(t))
}

// TestStaticBinaryInEmptyRoot builds certinit with the Dockerfile's own
// command, checks `file` calls it statically linked, and runs it alone in an
// empty root (a private mount and PID namespace, as in a scratch image) to
// build a trust store from the embedded Mozilla roots and rehash it.
func TestStaticBinaryInEmptyRoot(t *testing.T) {
	fileTool := testutil.RequireTool(t, "file")
	unshare := testutil.RequireTool(t, "unshare")
	openssl := testutil.RequireTool(t, "openssl")
	testutil.RequireRoot(t)
	root := testutil.ModuleRoot(t)
	out := t.TempDir()
	cmdline := buildCommand(t, root)
	cmdline = strings.ReplaceAll(cmdline, "${VERSION}", "test")
	cmdline = strings.ReplaceAll(cmdline, "/out/certinit", filepath.Join(out, "certinit"))
	build := exec.Command("sh", "-c", cmdline)
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	checkShippedBinary(t, filepath.Join(out, "certinit"))
	desc, err := exec.Command(fileTool, filepath.Join(out, "certinit")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(desc), "statically linked") {
		t.Fatalf("file says %q, want statically linked", desc)
	}

	empty := t.TempDir()
	bin, _ := os.ReadFile(filepath.Join(out, "certinit"))
	if err := os.WriteFile(filepath.Join(empty, "certinit"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	steps := [][]string{
		{"/certinit", "trust", "install", "--mozilla-roots"},
		{"/certinit", "rehash", "/etc/ssl/certs"},
	}
	for _, argv := range steps {
		args := append([]string{"--mount", "--pid", "--fork", "--root", empty}, argv...)
		if b, err := exec.Command(unshare, args...).CombinedOutput(); err != nil {
			t.Fatalf("in empty root: %s: %v\n%s", strings.Join(argv, " "), err, b)
		}
	}
	bundle := filepath.Join(empty, "etc/ssl/certs/ca-certificates.crt")
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "BEGIN CERTIFICATE"); n < 100 {
		t.Fatalf("bundle has %d certificates, want the Mozilla set (over 100)", n)
	}
	// Verify one root of the bundle against the hash directory with OpenSSL.
	first := data[:strings.Index(string(data), "END CERTIFICATE")+len("END CERTIFICATE-----\n")]
	one := filepath.Join(t.TempDir(), "one.pem")
	os.WriteFile(one, first, 0o644)
	if b, err := exec.Command(openssl, "verify", "-CApath", filepath.Join(empty, "etc/ssl/certs"), one).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify -CApath in the built store: %v\n%s", err, b)
	}
}
