package mosquittotest

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// stopTimeout bounds how long a process gets after SIGTERM at the end of a
// test before it is killed.
const stopTimeout = 15 * time.Second

// Proc is a long-running program a test started (a broker, certinit run, a
// subscriber), its stdout and stderr captured together.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	out  testutil.Buffer
	done chan struct{}
}

// StartProc starts bin with args. At the end of the test it stops the
// process (Stop) and logs its output when the test failed.
func StartProc(t testing.TB, name, bin string, args ...string) *Proc {
	t.Helper()
	return StartProcEnv(t, name, nil, bin, args...)
}

// StartProcEnv is StartProc with env (KEY=VALUE) added to the test's
// environment.
func StartProcEnv(t testing.TB, name string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	return StartProcTo(t, name, nil, env, bin, args...)
}

// StartProcTo is StartProcEnv that also writes the output to w (when not
// nil): a *testutil.Logs for a program run with --log-format json.
func StartProcTo(t testing.TB, name string, w io.Writer, env []string, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	var out io.Writer = &p.out
	if w != nil {
		out = io.MultiWriter(&p.out, w)
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait() // the only Wait: the process is ours alone
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output())
		}
	})
	return p
}

// Stop sends SIGTERM and waits for the process to exit, killing it (and
// failing the test) after stopTimeout. Stopping an exited process does
// nothing.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if p.Exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.Wait(t, stopTimeout)
}

// Kill ends the process with SIGKILL and waits for it, for a broker that
// may not answer SIGTERM: Mosquitto 2.0.11 can spin at full CPU, ignoring
// SIGTERM, after a failed bridge TLS handshake (fixed in 2.0.15), so a
// test that made a bridge fail kills that broker at once.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if p.Exited() {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
}

// Wait waits for the process to exit and returns its exit code, 128+N
// when signal N killed it; after within it kills the process and fails
// the test.
func (p *Proc) Wait(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		if !p.Exited() {
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not exit within %v", p.Name, within)
		}
	}
	return testutil.ExitCode(p.cmd.ProcessState)
}

// Output returns everything the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitOutput polls until the output holds n occurrences of text, failing
// the test when the process exits first or within passes.
func (p *Proc) WaitOutput(t testing.TB, text string, n int, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, func() (bool, string) {
		if strings.Count(p.Output(), text) >= n {
			return true, ""
		}
		if p.Exited() {
			t.Fatalf("%s exited before printing %q; output:\n%s", p.Name, text, p.Output())
		}
		return false, "no " + text + " in the output of " + p.Name
	})
}
