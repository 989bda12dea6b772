package demotest

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// benchScripts lists scripts/bench.sh and every bench/*.sh.
func benchScripts(t *testing.T) []string {
	t.Helper()
	root := testutil.ModuleRoot(t)
	scripts, err := filepath.Glob(filepath.Join(root, "bench", "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no bench/*.sh under %s (%v)", root, err)
	}
	return append(scripts, filepath.Join(root, "scripts", "bench.sh"))
}

// TestBenchScriptsParse checks every benchmark script with `bash -n`: a
// full `make bench` takes many minutes (even BENCH_QUICK=1 takes minutes on
// a loaded machine), so this is what keeps a typo from waiting for it.
func TestBenchScriptsParse(t *testing.T) {
	bash := testutil.RequireTool(t, "bash")
	for _, s := range benchScripts(t) {
		t.Run(filepath.Base(s), func(t *testing.T) {
			if out, err := exec.Command(bash, "-n", s).CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v\n%s", s, err, out)
			}
		})
	}
}

// TestBenchTable runs scripts/bench.sh on its one cheap script (the binary
// size) and checks the table's form: the command line, one header, rows
// of five cells.
func TestBenchTable(t *testing.T) {
	for _, tool := range []string{"bash", "file", "ldd", "openssl"} {
		testutil.RequireTool(t, tool)
	}
	cmd := exec.Command("bash", "scripts/bench.sh", "90-binary")
	cmd.Dir = testutil.ModuleRoot(t)
	cmd.Env = append(cmd.Environ(), "CERTINIT="+testutil.BuildCertinit(t), "BENCH_QUICK=1")
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/bench.sh 90-binary: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	text := string(out)
	if !strings.HasPrefix(text, "`BENCH_QUICK=1 scripts/bench.sh 90-binary` on ") {
		t.Errorf("the output does not start with the command line used:\n%s", text)
	}
	if n := strings.Count(text, "| what | certinit | reference | reference tool | ratio |"); n != 1 {
		t.Errorf("the header appears %d times, want once:\n%s", n, text)
	}
	var rows []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "|") && !strings.HasPrefix(line, "| what |") && !strings.HasPrefix(line, "| --- |") {
			rows = append(rows, line)
		}
	}
	if len(rows) != 1 || !strings.Contains(rows[0], "static binary size") {
		t.Fatalf("want one row, the binary size; got %q", rows)
	}
	if cells := strings.Split(strings.Trim(rows[0], "| "), " | "); len(cells) != 5 || !strings.HasSuffix(cells[1], "MiB") {
		t.Errorf("row %q: want 5 cells with a size in MiB", rows[0])
	}
}

// TestBenchUnknownScript: a name that is not a script is a usage error,
// not an empty table.
func TestBenchUnknownScript(t *testing.T) {
	testutil.RequireTool(t, "bash")
	cmd := exec.Command("bash", "scripts/bench.sh", "no-such-benchmark")
	cmd.Dir = testutil.ModuleRoot(t)
	cmd.Env = append(cmd.Environ(), "CERTINIT="+testutil.BuildCertinit(t))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "no bench/no-such-benchmark.sh") {
		t.Errorf("scripts/bench.sh no-such-benchmark: %v, want exit 2 naming the script\n%s", err, out)
	}
}
