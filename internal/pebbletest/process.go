package pebbletest

import (
	"io"
	"net"
	"os/exec"
	"sync"
	"sync/atomic"
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

// relay forwards TCP connections to the current upstream and counts them.
// With no upstream it closes each connection at once, as a stopped CA's
// port would refuse it.
type relay struct {
	ln       net.Listener
	count    atomic.Int64
	upstream atomic.Value // string
	wg       sync.WaitGroup
}

func startRelay(t testing.TB) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	r.upstream.Store("")
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) setUpstream(a string) { r.upstream.Store(a) }

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.count.Add(1)
		up := r.upstream.Load().(string)
		if up == "" {
			c.Close()
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer c.Close()
			u, err := net.Dial("tcp", up)
			if err != nil {
				return
			}
			defer u.Close()
			// When either side ends, end both (HTTP needs no half-close).
			done := make(chan struct{})
			go func() { io.Copy(u, c); u.Close(); c.Close(); close(done) }()
			io.Copy(c, u)
			c.Close()
			u.Close()
			<-done
		}()
	}
}
