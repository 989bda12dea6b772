package main_test

import (
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// The built certinit against files it must not read: a FIFO (opening one
// for reading waits for a writer), a link to a character device (reading
// one never ends), a directory and a file larger than any certificate.
// Each is one line naming it, never a hang, in every command that meets
// one, and a later good file is used.

// unreadable are the kinds of file, each made at a path.
var unreadable = []struct {
	name string
	make func(t *testing.T, path string)
}{
	{"fifo", func(t *testing.T, path string) {
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			t.Fatal(err)
		}
	}},
	{"link to a character device", func(t *testing.T, path string) {
		if err := os.Symlink("/dev/zero", path); err != nil {
			t.Fatal(err)
		}
	}},
	{"directory", func(t *testing.T, path string) {
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
	}},
	{"oversized", func(t *testing.T, path string) {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, pemfile.MaxFileSize+1); err != nil { // sparse
			t.Fatal(err)
		}
	}},
}

// TestInitUnreadableCert: `certinit init --cert X --key K --wait D` with
// X unreadable ends once the wait is over, with exit code 1 and one line
// naming X.
func TestInitUnreadableCert(t *testing.T) {
	for _, k := range unreadable {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cert := filepath.Join(dir, "cert.pem")
			k.make(t, cert)
			key := testutil.WriteFile(t, dir, "key.pem", []byte("not read before the certificate\n"))
			const wait = 3 * time.Second
			start := time.Now()
			code, logs := runCertinit(t, 30*time.Second, "init", "--cert", cert, "--key", key, "--wait", wait.String())
			took := time.Since(start)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if took < wait || took > wait+10*time.Second {
				t.Errorf("took %s with --wait %s", took.Round(time.Millisecond), wait)
			}
			errorLineNaming(t, logs, cert)
		})
	}
}

// TestInitFIFOInterrupted: SIGTERM during init's wait for a FIFO at --cert
// ends certinit at once, with exit code 1 and one line naming the FIFO.
func TestInitFIFOInterrupted(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	unreadable[0].make(t, cert)
	key := testutil.WriteFile(t, dir, "key.pem", []byte("not read before the certificate\n"))
	p := startCertinit(t, "init", "--cert", cert, "--key", key, "--wait", "10m")
	p.logs.WaitFor(testutil.All(testutil.HasAttr("path", cert), testutil.AttrContains("reason", cert)), 10*time.Second)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	code := p.wait(t, 5*time.Second)
	if took := time.Since(start); code != 1 {
		t.Errorf("exit %d after SIGTERM (%s), want 1", code, took.Round(time.Millisecond))
	}
	errorLineNaming(t, p.logs, cert)
}

// TestRunFIFOAtWatchedCert: during `certinit run` with a real Mosquitto, a
// FIFO put where the certificate was is refused once, with a record
// naming it; the scans after it look at it again without blocking or
// reporting it again; and a good pair written afterwards is reloaded:
// Mosquitto serves it.
func TestRunFIFOAtWatchedCert(t *testing.T) {
	mosq := testutil.RequireTool(t, "mosquitto")
	dir := t.TempDir()
	ca := testutil.NewCA(t, "certinit fifo test CA")
	caFile := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	issue := func() *big.Int {
		c, k := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "127.0.0.1"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
		testutil.RenameOver(t, cert, testutil.CertPEM(c))
		testutil.RenameOver(t, key, testutil.KeyPEM(t, k))
		return c.SerialNumber
	}
	first := issue()
	port := testutil.FreePort(t)
	conf := testutil.WriteFile(t, dir, "mosquitto.conf", []byte(fmt.Sprintf(
		"listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\nallow_anonymous true\npersistence false\nuser root\n", port, cert, key)))
	p := startCertinit(t, "run", "--cert", cert, "--key", key, "--debounce", "50ms", "--poll", "100ms", "--", mosq, "-c", conf)
	waitServed(t, port, caFile, first)

	fifo := cert + ".fifo"
	unreadable[0].make(t, fifo)
	if err := os.Rename(fifo, cert); err != nil {
		t.Fatal(err)
	}
	refusedFIFO := testutil.All(testutil.AtLevel(slog.LevelError), testutil.AttrContains("reason", cert))
	p.logs.WaitFor(refusedFIFO, 10*time.Second)
	testutil.WaitOpened(t, cert, 3, 10*time.Second) // three polls read it since
	if n := len(p.logs.Matching(refusedFIFO)); n != 1 {
		t.Errorf("the FIFO was refused %d times, want once", n)
	}

	waitServed(t, port, caFile, issue())
	if n := len(p.logs.Matching(testutil.AtLevel(slog.LevelError))); n > 2 {
		// The FIFO, and perhaps the new certificate seen beside the old key.
		t.Errorf("%d errors logged", n)
	}
}

// TestCheckUnreadableInclude: `certinit check --mosquitto-conf` with an
// unreadable file in the include_dir ends with exit code 1 and one
// problem line naming it.
func TestCheckUnreadableInclude(t *testing.T) {
	for _, k := range unreadable {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			inc := filepath.Join(dir, "conf.d")
			if err := os.Mkdir(inc, 0o755); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(inc, "tls.conf")
			k.make(t, bad)
			conf := testutil.WriteFile(t, dir, "mosquitto.conf", []byte("listener 8883\ninclude_dir "+inc+"\n"))
			code, logs := runCertinit(t, 10*time.Second, "check", "--mosquitto-conf", conf)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			naming := 0
			for _, l := range logs.Lines() {
				if n := strings.Count(l, bad); n > 1 {
					t.Errorf("line names %s %d times: %s", bad, n, l)
				} else if n == 1 {
					naming++
				}
			}
			if naming != 1 {
				t.Errorf("%d lines name %s, want one: %q", naming, bad, logs.Lines())
			}
		})
	}
}

// TestProbeUnreadableCAFile: `certinit probe --cafile X --timeout T` ends
// within T, with exit code 1 and one line naming X. The server accepts
// the connection and never answers, so a probe that went on would take
// all of T.
func TestProbeUnreadableCAFile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, k := range unreadable {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			cafile := filepath.Join(t.TempDir(), "ca.pem")
			k.make(t, cafile)
			const timeout = 3 * time.Second
			start := time.Now()
			code, logs := runCertinit(t, 30*time.Second, "probe", ln.Addr().String(), "--cafile", cafile, "--timeout", timeout.String())
			if took := time.Since(start); took >= timeout {
				t.Errorf("took %s with --timeout %s", took.Round(time.Millisecond), timeout)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			errorLineNaming(t, logs, cafile)
		})
	}
}

// errorLineNaming checks that certinit ended with exactly one line that is
// not a log record, its error, naming path once.
func errorLineNaming(t *testing.T, logs *testutil.Logs, path string) {
	t.Helper()
	lines := logs.Lines()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "certinit: ") || strings.Count(lines[0], path) != 1 {
		t.Errorf("output lines %q: want one error line naming %s once", lines, path)
	}
}

// proc is the built certinit running with --log-format json, its output
// read by logs (records, and the other lines apart).
type proc struct {
	cmd  *exec.Cmd
	logs *testutil.Logs
	done chan struct{}
}

// startCertinit starts certinit ARGS. At the end of the test a certinit
// still running gets SIGTERM, then SIGKILL (and the test fails) if it is
// still there 10s later.
func startCertinit(t *testing.T, args ...string) *proc {
	t.Helper()
	logs, _ := testutil.NewLogs(t)
	p := &proc{cmd: exec.Command(testutil.BuildCertinit(t), append([]string{"--log-format", "json"}, args...)...), logs: logs, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.wait(t, 10*time.Second)
	})
	return p
}

// wait waits for certinit to exit and returns its exit code (128+N for
// signal N); after within it kills certinit and fails the test.
func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("certinit did not exit within %s", within)
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// runCertinit runs certinit ARGS to its end, killing it (and failing the
// test) when it takes longer than within, and returns its exit code.
func runCertinit(t *testing.T, within time.Duration, args ...string) (int, *testutil.Logs) {
	t.Helper()
	p := startCertinit(t, args...)
	return p.wait(t, within), p.logs
}

// waitServed waits until Mosquitto on port serves the certificate with
// this serial.
func waitServed(t *testing.T, port int, caFile string, serial *big.Int) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, func() (bool, string) {
		got, err := mosquittotest.ServedSerial(t, port, caFile, "127.0.0.1")
		if err != nil {
			return false, err.Error()
		}
		return got.Cmp(serial) == 0, fmt.Sprintf("serving serial %s, want %s", got, serial)
	})
}
