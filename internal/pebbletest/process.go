package pebbletest

import (
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// process is a child program whose output is kept for the test log.
type process struct {
	cmd  *exec.Cmd
	out  *testutil.Buffer
	once sync.Once
}

// startProcess starts bin; its output is logged if the test fails, and it
// is killed at cleanup (and when the test binary dies, by Pdeathsig).
func startProcess(t testing.TB, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), out: &testutil.Buffer{}}
	p.cmd.Env = append(p.cmd.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.Tail(8000))
		}
	})
	return p
}

func (p *process) stop() {
	p.once.Do(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
}
