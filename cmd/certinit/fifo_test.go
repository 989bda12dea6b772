package main_test

import (
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// The built certinit against files it must not read
// (testutil.UnreadableFiles): each is one line naming it, never a hang, in
// every command that meets one, and a later good file is used.

// TestInitUnreadableCert: `certinit init --cert X --key K --wait D` with
// X unreadable ends once the wait is over, with exit code 1 and one line
// naming X.
func TestInitUnreadableCert(t *testing.T) {
	testutil.BuildCertinit(t) // before the clocks start
	for _, k := range testutil.UnreadableFiles {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cert := filepath.Join(dir, "cert.pem")
			k.Make(t, cert)
			key := testutil.WriteFile(t, dir, "key.pem", []byte("not read before the certificate\n"))
			const wait = 3 * time.Second
			start := time.Now()
			c := testutil.StartCertinit(t, false, "init", "--cert", cert, "--key", key, "--wait", wait.String())
			code := c.Wait(30 * time.Second)
			took := time.Since(start)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if took < wait || took > wait+10*time.Second {
				t.Errorf("took %s with --wait %s", took.Round(time.Millisecond), wait)
			}
			errorLineNaming(t, c.Logs, cert)
		})
	}
}

// TestInitFIFOInterrupted: SIGTERM during init's wait for a FIFO at --cert
// ends certinit at once, with exit code 1 and one line naming the FIFO.
func TestInitFIFOInterrupted(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	if err := syscall.Mkfifo(cert, 0o644); err != nil {
		t.Fatal(err)
	}
	key := testutil.WriteFile(t, dir, "key.pem", []byte("not read before the certificate\n"))
	c := testutil.StartCertinit(t, false, "init", "--cert", cert, "--key", key, "--wait", "10m")
	c.Logs.WaitFor(testutil.All(testutil.HasAttr("path", cert), testutil.AttrContains("reason", cert)), 10*time.Second)
	start := time.Now()
	code := c.Stop()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s to stop", took.Round(time.Millisecond))
	}
	if code != 1 {
		t.Errorf("exit %d after SIGTERM, want 1", code)
	}
	errorLineNaming(t, c.Logs, cert)
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
	logs := testutil.StartCertinit(t, false, "run", "--cert", cert, "--key", key, "--settle", "1s", "--poll", "100ms", "--", mosq, "-c", conf).Logs
	served := func() (*big.Int, error) { return mosquittotest.ServedSerial(t, port, caFile, "127.0.0.1") }
	mosquittotest.WaitServed(t, 20*time.Second, first, served)

	fifo := cert + ".fifo"
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, cert); err != nil {
		t.Fatal(err)
	}
	refusedFIFO := testutil.All(testutil.AtLevel(slog.LevelError), testutil.AttrContains("reason", cert))
	logs.WaitFor(refusedFIFO, 10*time.Second)
	testutil.WaitOpened(t, cert, 3, 10*time.Second) // three polls read it since
	if n := len(logs.Matching(refusedFIFO)); n != 1 {
		t.Errorf("the FIFO was refused %d times, want once", n)
	}

	mosquittotest.WaitServed(t, 20*time.Second, issue(), served)
	if n := len(logs.Matching(testutil.AtLevel(slog.LevelError))); n > 2 {
		// The FIFO, and perhaps the new certificate seen beside the old key.
		t.Errorf("%d errors logged", n)
	}
}

// TestCheckUnreadableInclude: `certinit check --mosquitto-conf` with an
// unreadable file in the include_dir ends with exit code 1 and one
// problem line naming it.
func TestCheckUnreadableInclude(t *testing.T) {
	for _, k := range testutil.UnreadableFiles {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			inc := filepath.Join(dir, "conf.d")
			if err := os.Mkdir(inc, 0o755); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(inc, "tls.conf")
			k.Make(t, bad)
			conf := testutil.WriteFile(t, dir, "mosquitto.conf", []byte("listener 8883\ninclude_dir "+inc+"\n"))
			c := testutil.StartCertinit(t, false, "check", "--mosquitto-conf", conf)
			if code := c.Wait(10 * time.Second); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			naming := 0
			for _, l := range c.Logs.Lines() {
				if n := strings.Count(l, bad); n > 1 {
					t.Errorf("line names %s %d times: %s", bad, n, l)
				} else if n == 1 {
					naming++
				}
			}
			if naming != 1 {
				t.Errorf("%d lines name %s, want one: %q", naming, bad, c.Logs.Lines())
			}
		})
	}
}

// TestProbeUnreadableCAFile: `certinit probe --cafile X --timeout T` ends
// within T, with exit code 1 and one line naming X. The server accepts
// the connection and never answers, so a probe that went on would take
// all of T.
func TestProbeUnreadableCAFile(t *testing.T) {
	testutil.BuildCertinit(t) // before the clocks start
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, k := range testutil.UnreadableFiles {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			cafile := filepath.Join(t.TempDir(), "ca.pem")
			k.Make(t, cafile)
			const timeout = 3 * time.Second
			start := time.Now()
			c := testutil.StartCertinit(t, false, "probe", ln.Addr().String(), "--cafile", cafile, "--timeout", timeout.String())
			code := c.Wait(30 * time.Second)
			if took := time.Since(start); took >= timeout {
				t.Errorf("took %s with --timeout %s", took.Round(time.Millisecond), timeout)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			errorLineNaming(t, c.Logs, cafile)
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
