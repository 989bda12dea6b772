package main

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// broker is a real Mosquitto started by a real certinit run on 127.0.0.1,
// with certificates from a test CA in a temporary directory.
type broker struct {
	t      *testing.T
	dir    string
	port   int
	ca     *testutil.CA
	caFile string
	conf   string

	cmd  *exec.Cmd
	logs *syncBuffer // certinit's and Mosquitto's stderr and stdout
	done chan struct{}
	code int
}

func newBroker(t *testing.T) *broker {
	testutil.RequireTool(t, "mosquitto")
	testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	// Mosquitto may drop to its own user: let it reach the files.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := &broker{t: t, dir: dir, port: testutil.FreePort(t), ca: testutil.NewCA(t, "certinit run test CA")}
	b.caFile = testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(b.ca.Cert))
	return b
}

// issue makes a server pair for 127.0.0.1 and returns it with its serial.
func (b *broker) issue(o testutil.CertOpts) (certPEM, keyPEM []byte, serial *big.Int) {
	o.Subject = pkix.Name{CommonName: "localhost"}
	o.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
	o.DNSNames = []string{"localhost"}
	c, k := b.ca.Issue(b.t, o)
	return testutil.CertPEM(c), testutil.KeyPEM(b.t, k), c.SerialNumber
}

// writeConf writes mosquitto.conf for a TLS listener on the free port.
// userRoot keeps Mosquitto from dropping to user mosquitto when the tests
// run as root, for tests whose subject is not file ownership.
func (b *broker) writeConf(certfile, keyfile string, userRoot bool, extra ...string) {
	lines := []string{
		fmt.Sprintf("listener %d 127.0.0.1", b.port),
		"certfile " + certfile,
		"keyfile " + keyfile,
		"allow_anonymous true",
		"persistence false",
	}
	if userRoot {
		lines = append(lines, "user root")
	}
	lines = append(lines, extra...)
	b.conf = testutil.WriteFile(b.t, b.dir, "mosquitto.conf", []byte(strings.Join(lines, "\n")+"\n"))
}

// start runs certinit run ARGS -- mosquitto -c CONF and, unless
// wantFail, waits until the broker serves TLS.
func (b *broker) start(args ...string) {
	b.t.Helper()
	bin := testutil.BuildCertinit(b.t)
	mosq := testutil.RequireTool(b.t, "mosquitto")
	full := append(append([]string{"--log-level", "debug", "run"}, args...), "--", mosq, "-c", b.conf)
	b.cmd = exec.Command(bin, full...)
	b.logs = &syncBuffer{}
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.done = make(chan struct{})
	go func() {
		err := b.cmd.Wait()
		b.code = b.cmd.ProcessState.ExitCode()
		if ws, ok := b.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			b.code = 128 + int(ws.Signal())
		}
		_ = err
		close(b.done)
	}()
	b.t.Cleanup(b.cleanup)
}

// cleanup stops certinit if it still runs and checks that no broker
// process outlives it.
func (b *broker) cleanup() {
	select {
	case <-b.done:
	default:
		b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(15 * time.Second):
			b.cmd.Process.Kill()
			<-b.done
			b.t.Error("certinit did not stop within 15s of SIGTERM")
		}
	}
	for _, pid := range b.childPIDs() {
		if syscall.Kill(pid, 0) == nil {
			b.t.Errorf("broker pid %d still running after certinit exited", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if b.t.Failed() {
		b.t.Logf("certinit and mosquitto output:\n%s", b.logs.String())
	}
}

var childStarted = regexp.MustCompile(`msg="child started" pid=(\d+)`)

// childPIDs are the brokers certinit started, from its log.
func (b *broker) childPIDs() []int {
	var pids []int
	for _, m := range childStarted.FindAllStringSubmatch(b.logs.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// served returns the serial of the certificate the broker presents now,
// as openssl s_client sees it, verifying the chain to the test CA.
func (b *broker) served() (*big.Int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", b.port),
		"-CAfile", b.caFile, "-verify_return_error", "-servername", "localhost")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("openssl s_client: %v: %s", err, lastLine(errOut.String()))
	}
	certs, err := pemfile.Certificates(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("s_client output: %v", err)
	}
	return certs[0].SerialNumber, nil
}

// waitServed polls (openssl s_client) until the broker serves serial and
// returns how long that took; it fails the test after within.
func (b *broker) waitServed(serial *big.Int, within time.Duration) time.Duration {
	b.t.Helper()
	return b.waitServedBy(b.served, serial, within, 50*time.Millisecond)
}

// waitServedBy polls probe every interval until it reports serial and
// returns how long that took; it fails the test after within.
func (b *broker) waitServedBy(probe func() (*big.Int, error), serial *big.Int, within, interval time.Duration) time.Duration {
	b.t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < within {
		got, err := probe()
		if err == nil && got.Cmp(serial) == 0 {
			return time.Since(start)
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("serving serial %x", got)
		}
		time.Sleep(interval) // polling interval
	}
	b.t.Fatalf("serial %x not served within %s: %v", serial, within, last)
	return 0
}

// waitLog polls certinit's output until it holds n matches of substr.
func (b *broker) waitLog(substr string, n int) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(b.logs.String(), substr) < n {
		if time.Now().After(deadline) {
			b.t.Fatalf("no %d× %q in the log within 10s", n, substr)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// wait returns certinit's exit code, failing the test if it does not exit.
func (b *broker) wait(within time.Duration) int {
	b.t.Helper()
	select {
	case <-b.done:
		return b.code
	case <-time.After(within):
		b.t.Fatalf("certinit still running after %s", within)
		return -1
	}
}

// client runs mosquitto_pub or mosquitto_sub against the broker over TLS.
func (b *broker) client(ctx context.Context, tool string, args ...string) *exec.Cmd {
	path := testutil.RequireTool(b.t, tool)
	base := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "--cafile", b.caFile, "-t", "certinit/test"}
	return exec.CommandContext(ctx, path, append(base, args...)...)
}

func (b *broker) publish(msg string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := b.client(ctx, "mosquitto_pub", "-m", msg).CombinedOutput(); err != nil {
		b.t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
}

// subscriber is a mosquitto_sub connected once, with -d so every CONNECT
// it sends is visible (it would reconnect silently otherwise).
type subscriber struct {
	out    *syncBuffer
	cancel func()
	done   chan struct{}
}

func (b *broker) subscribe() *subscriber {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{out: &syncBuffer{}, cancel: cancel, done: make(chan struct{})}
	cmd := b.client(ctx, "mosquitto_sub", "-d", "-v")
	// Line-buffered, so -d's lines arrive as they happen, not at exit.
	cmd.Args = append([]string{"stdbuf", "-oL"}, cmd.Args...)
	cmd.Path = testutil.RequireTool(b.t, "stdbuf")
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	b.t.Cleanup(func() { cancel(); <-s.done })
	waitText(b.t, s.out, "received SUBACK", 10*time.Second)
	return s
}

func (s *subscriber) connects() int { return strings.Count(s.out.String(), "sending CONNECT") }

func waitText(t *testing.T, buf *syncBuffer, text string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(buf.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %s in:\n%s", text, within, buf.String())
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
