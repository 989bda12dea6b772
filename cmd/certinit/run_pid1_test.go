package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// pid1 runs `certinit ARGS` as PID 1 of a new PID namespace (what a
// container gives it), with its own /proc, and returns the exit code and
// the output (standard output, then standard error).
func pid1(t *testing.T, args ...string) (int, string) {
	t.Helper()
	testutil.RequireRoot(t)
	unshare := testutil.RequireTool(t, "unshare")
	bin := testutil.BuildCertinit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := testutil.Run(t, exec.CommandContext(ctx, unshare, append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", bin}, args...)...))
	if ctx.Err() != nil {
		t.Fatalf("certinit %q did not finish within 30s:\n%s%s", args, r.Stdout, r.Stderr)
	}
	return r.Code, r.Stdout + r.Stderr
}

// TestPID1ExitCodes: every exit status 0–255 passes through, a signal
// death gives 128+N, and a command that cannot start gives 127 or 126.
func TestPID1ExitCodes(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	type tc struct {
		name string
		args []string
		want int
	}
	var tests []tc
	// Every status, each through its own certinit as PID 1, eight at a
	// time to keep the whole table to a few seconds.
	for code := 0; code <= 255; code++ {
		tests = append(tests, tc{"exit " + strconv.Itoa(code), []string{"run", "--", sh, "-c", "exit " + strconv.Itoa(code)}, code})
	}
	tests = append(tests,
		tc{"killed by SIGTERM", []string{"run", "--", sh, "-c", "kill -TERM $$"}, 143},
		tc{"killed by SIGKILL", []string{"run", "--", sh, "-c", "kill -KILL $$"}, 137},
		tc{"not found", []string{"run", "--", "certinit-no-such-command"}, 127},
		tc{"not executable", []string{"run", "--", "/etc/hostname"}, 126},
		tc{"exec: not found", []string{"run", "--exec", "--", "certinit-no-such-command"}, 127},
	)
	sem := make(chan struct{}, 8)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			code, out := pid1(t, tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.want, out)
			}
		})
	}
}

// orphanScript makes four grandchildren that outlive their parent, checks
// that each was re-parented to certinit ($PPID: PID 1, or the subreaper),
// then kills them and waits until all are gone; a zombie left unreaped
// fails it. The orphans sleep until killed, so a loaded machine cannot make
// one exit before the re-parenting check sees it.
const orphanScript = `
orphans=""
for i in 1 2 3 4; do orphans="$orphans $(sh -c 'sleep 60 >/dev/null 2>&1 & echo $!')"; done
list=$(echo $orphans | tr ' ' ',')
for p in $orphans; do
  i=0
  until [ "$(ps -o ppid= -p $p | tr -d ' ')" = "$PPID" ]; do
    [ $i -ge 1000 ] && { echo "orphan $p not re-parented to certinit ($PPID)"; ps -o pid,ppid,stat,comm -p $list; exit 1; }
    sleep 0.01; i=$((i+1))
  done
done
kill $orphans
i=0
while [ $i -lt 200 ]; do
  left=$(ps -o pid=,stat= -p $list)
  [ -z "$left" ] && { echo reaped; exit 0; }
  sleep 0.05; i=$((i+1))
done
echo "left behind:"; ps -o pid,ppid,stat,comm -p $list; exit 1`

// TestReapsOrphans: orphaned grandchildren are re-parented to certinit
// and reaped, both as PID 1 and as a child subreaper under another init.
func TestReapsOrphans(t *testing.T) {
	testutil.RequireTool(t, "ps")
	t.Run("PID 1", func(t *testing.T) {
		code, out := pid1(t, "run", "--", "sh", "-c", orphanScript)
		if code != 0 || !strings.Contains(out, "reaped") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("subreaper", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, testutil.BuildCertinit(t), "run", "--", "sh", "-c", orphanScript).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "reaped") {
			t.Fatalf("%v:\n%s", err, out)
		}
	})
}

// TestPID1ForwardsSignals: the child sends each signal to PID 1 (certinit)
// and waits until its own trap saw it come back. TERM and INT then stop it
// (the trap exits 42), and certinit exits with that code.
func TestPID1ForwardsSignals(t *testing.T) {
	for _, stop := range []string{"TERM", "INT"} {
		t.Run(stop, func(t *testing.T) {
			script := `
got=""
for s in HUP USR1 USR2 WINCH QUIT; do trap "got=\"\$got $s\"" $s; done
trap 'echo "got:$got ` + stop + `"; exit 42' ` + stop + `
for s in HUP USR1 USR2 WINCH QUIT; do
  kill -s $s 1
  i=0
  while ! echo "$got" | grep -qw $s; do
    [ $i -ge 200 ] && { echo "lost $s (got:$got)"; exit 1; }
    sleep 0.02; i=$((i+1))
  done
done
kill -s ` + stop + ` 1
while :; do sleep 0.02; done`
			code, out := pid1(t, "run", "--", "sh", "-c", script)
			if want := "got: HUP USR1 USR2 WINCH QUIT " + stop; code != 42 || !strings.Contains(out, want) {
				t.Fatalf("exit %d, want 42 with %q; output:\n%s", code, want, out)
			}
		})
	}
}

// TestPID1StopTimeout: a child that ignores SIGTERM is killed after
// --stop-timeout; certinit exits 137.
func TestPID1StopTimeout(t *testing.T) {
	script := `trap '' TERM; kill -s TERM 1; while :; do sleep 0.02; done`
	start := time.Now()
	code, out := pid1(t, "run", "--stop-timeout", "300ms", "--", "sh", "-c", script)
	if code != 137 {
		t.Fatalf("exit %d, want 137; output:\n%s", code, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("took %s: the stop timeout was not applied", took)
	}
}

// TestPID1Exec: with --exec, COMMAND replaces certinit and is PID 1.
func TestPID1Exec(t *testing.T) {
	code, out := pid1(t, "run", "--exec", "--", "sh", "-c", `echo "pid=$$"; exit 5`)
	if code != 5 || !strings.Contains(out, "pid=1\n") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	code, out = pid1(t, "run", "--", "sh", "-c", `echo "pid=$$"`)
	if code != 0 || strings.Contains(out, "pid=1\n") {
		t.Fatalf("without --exec the child must not be PID 1: exit %d, output:\n%s", code, out)
	}
}

// TestSignalInterruptsWait: SIGTERM stops a --wait for a pair that never
// comes, as PID 1 (where a signal without a handler is dropped) and not;
// certinit exits 1 at once with one line naming the certificate, and
// COMMAND never starts.
func TestSignalInterruptsWait(t *testing.T) {
	for _, mode := range supervisorModes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			marker, cert := filepath.Join(dir, "started"), filepath.Join(dir, "never.pem")
			s := testutil.StartCertinit(t, mode.asPID1, "run", "--cert", cert, "--key", filepath.Join(dir, "never-key.pem"),
				"--wait", "10m", "--", "touch", marker)
			s.Logs.WaitFor(testutil.All(testutil.Message("waiting for certificate"), testutil.HasAttr("path", cert)), 10*time.Second)
			start := time.Now()
			if code := s.Stop(); code != 1 {
				t.Fatalf("exit %d after SIGTERM, want 1", code)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s to stop", took)
			}
			lines := strings.Split(strings.TrimSpace(s.Out.String()), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "certinit: "+cert+": ") {
				t.Errorf("last line %q does not name %s", last, cert)
			}
			if testutil.Exists(marker) {
				t.Error("COMMAND ran")
			}
		})
	}
}
