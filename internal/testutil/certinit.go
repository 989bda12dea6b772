package testutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real certinit binary, built once, run to its end (RunCertinit) or in
// the background (StartCertinit), logging JSON so that tests read its
// records with Logs.

// BuildCertinit builds the certinit binary once per test binary into a
// temporary directory and returns its path; tests that run the real command
// (signals, PID 1, crash tests) use it. It builds with the build tags of the
// shipped binary (Makefile, Dockerfile), so the tests run what ships.
func BuildCertinit(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certinit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, "certinit")
		cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", builtPath, "./cmd/certinit")
		cmd.Dir = ModuleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// CopyCertinit copies the built certinit into dir (ReadableDir) and
// returns its path, for a test that runs it as another user: the build
// directory is private to root.
func CopyCertinit(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "certinit")
	if err := os.WriteFile(bin, ReadFile(t, BuildCertinit(t)), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// CertinitCommand returns the command that runs the built certinit with
// --log-format json and args, with PATH=/usr/bin:/bin only. The caller may
// adjust it (directory, credentials, PeakRSS) before Run.
func CertinitCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(BuildCertinit(t), append([]string{"--log-format", "json"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	return cmd
}

// Result is how a program run to its end went.
type Result struct {
	Code   int // exit code, 128+N when signal N killed it
	Stdout string
	Stderr string
	// Logs holds the records of a JSON log on standard error; its Lines
	// are the other lines there: certinit's closing error line.
	Logs *Logs
	Took time.Duration
}

// String shows the result in a failure message.
func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs cmd to its end and returns what it did; it fails the test when
// cmd cannot start. Stdout and Stderr of cmd must not be set.
func Run(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s: %v", cmd.Args[0], err)
	}
	return Result{Code: ExitCode(cmd.ProcessState), Stdout: stdout.String(), Stderr: stderr.String(),
		Logs: JSONLogs(t, stderr.String()), Took: took}
}

// RunCertinit runs the built certinit with args to its end
// (CertinitCommand, Run).
func RunCertinit(t testing.TB, args ...string) Result {
	t.Helper()
	return Run(t, CertinitCommand(t, args...))
}

// ExitCode is the exit code of a finished process, 128+N when signal N
// killed it (as a shell reports it).
func ExitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// stopWithin bounds how long certinit gets after SIGTERM at the end of a
// test before it is killed and the test fails.
const stopWithin = 15 * time.Second

// Certinit is the built certinit binary running in the background for a
// test, logging JSON: its records go to Logs, all its output and its
// child's to Out.
type Certinit struct {
	PID  int // certinit's PID as the test sees it
	Logs *Logs
	Out  Buffer

	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	code int
}

// StartCertinit runs `certinit --log-format json ARGS` (BuildCertinit), as
// PID 1 of a new PID namespace with its own /proc when asPID1 (what a
// container gives it; needs root), else as a child of the test. At the end
// of the test it is stopped with SIGTERM, and its output is logged when
// the test failed.
func StartCertinit(t testing.TB, asPID1 bool, args ...string) *Certinit {
	t.Helper()
	bin := BuildCertinit(t)
	c := &Certinit{t: t, done: make(chan struct{})}
	c.Logs, _ = NewLogs(t)
	args = append([]string{"--log-format", "json"}, args...)
	if asPID1 {
		RequireRoot(t)
		unshare := RequireTool(t, "unshare")
		c.cmd = exec.Command(unshare, append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", bin}, args...)...)
	} else {
		c.cmd = exec.Command(bin, args...)
	}
	w := io.MultiWriter(&c.Out, c.Logs)
	c.cmd.Stdout, c.cmd.Stderr = w, w
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.cmd.Wait() // the only Wait: the process is the test's alone
		c.code = ExitCode(c.cmd.ProcessState)
		close(c.done)
	}()
	t.Cleanup(c.cleanup)
	c.PID = c.cmd.Process.Pid
	if asPID1 {
		c.PID = c.underUnshare()
	}
	return c
}

// underUnshare returns certinit's PID: unshare forks, and its only child
// execs certinit.
func (c *Certinit) underUnshare() int {
	c.t.Helper()
	pid := 0
	Eventually(c.t, 10*time.Second, func() (bool, string) {
		for p := range ChildrenOf(c.cmd.Process.Pid) {
			pid = p
			return true, ""
		}
		if c.Exited() {
			c.t.Fatalf("unshare exited without starting certinit; output:\n%s", c.Out.String())
		}
		return false, "no certinit under unshare; output:\n" + c.Out.String()
	})
	return pid
}

func (c *Certinit) cleanup() {
	if !c.Exited() {
		syscall.Kill(c.PID, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(stopWithin):
			c.cmd.Process.Kill()
			<-c.done
			c.t.Errorf("certinit did not stop within %s of SIGTERM", stopWithin)
		}
	}
	if c.t.Failed() {
		c.t.Logf("output of certinit and its child (last 8 KiB):\n%s", c.Out.Tail(8<<10))
	}
}

// Signal sends sig to certinit.
func (c *Certinit) Signal(sig syscall.Signal) {
	c.t.Helper()
	if err := syscall.Kill(c.PID, sig); err != nil {
		c.t.Fatalf("kill -%d %d: %v", sig, c.PID, err)
	}
}

// Stop sends SIGTERM to certinit and returns its exit code.
func (c *Certinit) Stop() int {
	c.t.Helper()
	c.Signal(syscall.SIGTERM)
	return c.Wait(stopWithin)
}

// Wait returns certinit's exit code (128+N when signal N killed it),
// failing the test if it does not exit within.
func (c *Certinit) Wait(within time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(within):
		c.t.Fatalf("certinit still running after %s", within)
		return -1
	}
}

// Exited reports whether certinit has exited.
func (c *Certinit) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Code is certinit's exit code, once it has exited.
func (c *Certinit) Code() int {
	<-c.done
	return c.code
}

// ChildPIDs are the children certinit started (its "child started"
// records), in order.
func (c *Certinit) ChildPIDs() []int {
	var pids []int
	for _, r := range c.Logs.Matching(Message("child started")) {
		pid, _ := strconv.Atoi(r.Attrs["pid"])
		pids = append(pids, pid)
	}
	return pids
}

// WaitRecords waits for the n-th record that match matches and returns it.
func (c *Certinit) WaitRecords(match func(Record) bool, n int) Record {
	c.t.Helper()
	seen := 0
	return c.Logs.WaitFor(func(r Record) bool {
		if match(r) {
			seen++
		}
		return seen >= n
	}, 10*time.Second)
}

// Count is the number of records so far that match matches.
func (c *Certinit) Count(match func(Record) bool) int {
	return len(c.Logs.Matching(match))
}
