package demotest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// runDemo runs scripts/demo.sh with a freshly built certinit and the given
// broker program; it returns the combined output and the exit code.
func runDemo(t *testing.T, mosquitto string) (string, int) {
	t.Helper()
	for _, tool := range []string{"bash", "mosquitto_pub", "mosquitto_sub", "openssl", "pgrep", "file"} {
		testutil.RequireTool(t, tool)
	}
	bin := testutil.BuildCertinit(t)
	// The demo promises to finish in under 2 minutes on a loaded machine;
	// it takes about 10 s. On the deadline SIGTERM lets its trap clean up.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "scripts/demo.sh")
	cmd.Dir = testutil.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CERTINIT="+bin, "MOSQUITTO="+mosquitto)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	var out testutil.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("bash scripts/demo.sh: %v\n%s", err, out.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("the demo took more than 2 minutes\n%s", out.String())
	}
	return out.String(), code
}

var workDirRE = regexp.MustCompile(`working in (/tmp/certinit-demo\.\S+)`)

// requireCleanedUp checks that the demo removed its directory and left no
// process that refers to it.
func requireCleanedUp(t *testing.T, out string) {
	t.Helper()
	m := workDirRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo did not name its working directory\n%s", out)
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo left %s behind (stat: %v)", m[1], err)
	}
	if pids, err := exec.Command("pgrep", "-f", m[1]).Output(); err == nil {
		t.Errorf("processes started by the demo are still running: %s", pids)
	}
}

func TestDemo(t *testing.T) {
	out, code := runDemo(t, testutil.RequireTool(t, "mosquitto"))
	if code != 0 {
		t.Fatalf("scripts/demo.sh exited with %d\n%s", code, out)
	}
	// The narration of every step, in order, and the evidence each prints:
	// the demo's own words. What certinit logs is the demo's to check (it
	// fails a step whose record is missing), not this test's.
	want := []string{
		"==> build:",
		"static binary",
		"==> obtain:",
		"openssl verify: OK",
		"==> trust:",
		"capath hash link",
		"==> start:",
		"serves serial",
		"==> pubsub:",
		"received: demo/topic hello before renewal",
		"==> renew:",
		"reload: the broker (same pid",
		"==> subscriber:",
		"received: demo/topic hello after renewal",
		"==> probe:",
		"mqtt: client id",
		"verdict: ok",
		"==> stop:",
		"certinit run exited with 0",
		"demo: every step passed",
	}
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("the demo's output lacks %q (or has it out of order)\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("the demo passed but printed FAILED\n%s", out)
	}
	requireCleanedUp(t, out)
}

// TestDemoFailsLoudly runs the demo with a "broker" that exits at once: the
// demo must not pass, must name the step, and must still clean up.
func TestDemoFailsLoudly(t *testing.T) {
	out, code := runDemo(t, testutil.RequireTool(t, "false"))
	if code == 0 {
		t.Fatalf("the demo passed with a broker that cannot start\n%s", out)
	}
	if !strings.Contains(out, `demo: FAILED in step "start"`) {
		t.Errorf("the failure does not name the step \"start\"\n%s", out)
	}
	if strings.Contains(out, "==> pubsub:") {
		t.Errorf("the demo went on after the broker failed\n%s", out)
	}
	requireCleanedUp(t, out)
}
