// Package mosquittotest runs the real Mosquitto broker and its clients for
// tests, on 127.0.0.1 only: the broker in the foreground with a
// configuration written to a temporary directory (Run, Start: it waits for
// the broker's own "running" log line or its exit, and stops the broker
// when the test ends); any long-running program a test starts, certinit
// run included, with its output captured (Proc); and what a client sees
// (clients.go): mosquitto_pub and mosquitto_sub, and the certificate a TLS
// listener serves, as openssl s_client verifies it.
//
// It is imported only from _test.go files; it holds no mocks and no
// helpers that are not about the broker or its clients (internal/testutil
// has those).
package mosquittotest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// startTimeout bounds how long a broker may take to start or refuse.
const startTimeout = 15 * time.Second

// Broker is a running (or exited) mosquitto process.
type Broker struct {
	ConfPath string
	cmd      *exec.Cmd
	log      testutil.Buffer
	done     chan struct{}
	exitErr  error
}

// PID is the broker's process id, for a test that signals it.
func (b *Broker) PID() int { return b.cmd.Process.Pid }

// Log returns what the broker has logged so far.
func (b *Broker) Log() string { return b.log.String() }

// Exited reports whether the broker has exited.
func (b *Broker) Exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// Run starts mosquitto with conf (written to dir/mosquitto.conf) and waits
// until it logs "running" (started=true) or exits (started=false). The
// broker is stopped at the end of the test.
func Run(t testing.TB, dir, conf string) (b *Broker, started bool) {
	t.Helper()
	bin := testutil.RequireTool(t, "mosquitto")
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b = &Broker{ConfPath: path, done: make(chan struct{})}
	b.cmd = exec.Command(bin, "-c", path, "-v")
	b.cmd.Stdout = &b.log
	b.cmd.Stderr = &b.log
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	go func() {
		b.exitErr = b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() {
		if !b.Exited() {
			b.cmd.Process.Kill()
		}
		<-b.done
	})
	running := func() bool { return strings.Contains(b.Log(), " running") }
	testutil.Eventually(t, startTimeout, func() (bool, string) {
		return running() || b.Exited(), "mosquitto neither started nor exited; log:\n" + b.Log()
	})
	return b, running()
}

// Start is Run for a configuration that must work: it fails the test with
// the broker's log when mosquitto refuses to start.
func Start(t testing.TB, dir, conf string) *Broker {
	t.Helper()
	b, ok := Run(t, dir, conf)
	if !ok {
		t.Fatalf("mosquitto did not start; config:\n%s\nlog:\n%s", conf, b.Log())
	}
	return b
}
