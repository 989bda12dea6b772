package main

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/promtest"
	"github.com/certinit/certinit/internal/testutil"
)

// scrapeWithin bounds how long a change takes to show in Prometheus: one
// scrape a second, plus the change itself (a reload, a restart).
const scrapeWithin = 30 * time.Second

// metricsBroker is `certinit run --metrics-addr` supervising a real
// Mosquitto whose TLS listener loads the --copy-to copy of the pair.
type metricsBroker struct {
	t                  *testing.T
	ca                 *testutil.CA
	caFile             string
	cert, key          string // the pair certinit watches
	copyDir, restartOn string
	port               int
	addr               string // the metrics listener
	run                *testutil.Certinit
	leaf               *x509.Certificate // the last pair written
	reloads            int
	prom               *promtest.Server
}

func startMetricsBroker(t *testing.T) *metricsBroker {
	t.Helper()
	testutil.RequireTool(t, "mosquitto")
	dir := t.TempDir()
	b := &metricsBroker{t: t, ca: testutil.NewCA(t, "run metrics test CA"), port: testutil.FreePort(t),
		addr: "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t)), copyDir: filepath.Join(dir, "copy")}
	b.caFile = testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(b.ca.Cert))
	b.cert, b.key = filepath.Join(dir, "live", "fullchain.pem"), filepath.Join(dir, "live", "privkey.pem")
	b.restartOn = testutil.WriteFile(t, dir, "clients-ca.pem", testutil.CertPEM(testutil.NewCA(t, "clients").Cert))
	b.renew(90 * 24 * time.Hour)
	conf := testutil.WriteFile(t, dir, "mosquitto.conf", fmt.Appendf(nil,
		"user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\nallow_anonymous true\n",
		b.port, filepath.Join(b.copyDir, "fullchain.pem"), filepath.Join(b.copyDir, "privkey.pem")))
	b.run = testutil.StartCertinit(t, false, "run", "--cert", b.cert, "--key", b.key, "--copy-to", b.copyDir,
		"--restart-on", b.restartOn, "--settle", "1s", "--metrics-addr", b.addr, "--ready-min-validity", "1h",
		"--", "mosquitto", "-c", conf)
	b.run.WaitRecords(testutil.Message("child started"), 1)
	b.prom = promtest.Start(t, b.addr)
	b.prom.WaitUp(t, b.addr, scrapeWithin)
	return b
}

// renew writes a new pair valid for validity from an hour ago, key first,
// as a renewal tool would.
func (b *metricsBroker) renew(validity time.Duration) {
	o := testutil.Localhost()
	o.NotBefore, o.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(validity)
	leaf, key := b.ca.Issue(b.t, o)
	testutil.WriteFile(b.t, filepath.Dir(b.key), filepath.Base(b.key), testutil.KeyPEM(b.t, key))
	testutil.WriteFile(b.t, filepath.Dir(b.cert), filepath.Base(b.cert), testutil.CertPEM(leaf))
	b.leaf = leaf
}

// reloaded waits for the reload of the last pair: its record, then the
// broker serving it (openssl s_client), then Prometheus showing the
// count and the served not-after as openssl saw it.
func (b *metricsBroker) reloaded() {
	b.t.Helper()
	b.reloads++
	b.run.WaitRecords(testutil.Message("reloading"), b.reloads)
	mosquittotest.WaitServed(b.t, scrapeWithin, b.leaf.SerialNumber, func() (*big.Int, error) {
		return mosquittotest.ServedSerial(b.t, b.port, b.caFile, "localhost")
	})
	b.wantValue(`certinit_reloads_total{result="ok",reason="signal"}`, float64(b.reloads))
	served, err := mosquittotest.ServedLeaf(b.t, b.port, b.caFile, "localhost")
	if err != nil {
		b.t.Fatal(err)
	}
	b.wantValue(fmt.Sprintf(`certinit_certificate_not_after_timestamp_seconds{role="served",path=%q}`,
		filepath.Join(b.copyDir, "fullchain.pem")), float64(served.NotAfter.Unix()))
}

// wantValue waits until Prometheus has stored want for expr.
func (b *metricsBroker) wantValue(expr string, want float64) {
	b.t.Helper()
	b.prom.WaitValue(b.t, scrapeWithin, expr, func(v float64) bool { return v == want })
}

// health runs `certinit health` (with --ready) against the listener and
// returns its exit code.
func (b *metricsBroker) health(ready bool) int {
	b.t.Helper()
	args := []string{"health", "--addr", b.addr}
	if ready {
		args = append(args, "--ready")
	}
	return testutil.Run(b.t, exec.Command(testutil.BuildCertinit(b.t), args...)).Code
}

// TestRunMetricsPrometheus: a real Prometheus scrapes `certinit run`
// supervising a real Mosquitto. What it stores, read back through its
// query API, follows what happens: the served certificate's not-after (as
// openssl s_client sees it), renewals counted as reloads, a mismatched
// pair counted as refused, a restart for a --restart-on file, the broker
// up. /readyz (through `certinit health --ready`) fails while the broker
// serves a certificate that expires within --ready-min-validity, the log
// warns about it, and both recover with the next renewal.
func TestRunMetricsPrometheus(t *testing.T) {
	b := startMetricsBroker(t)
	b.wantValue(`certinit_broker_up`, 1)
	b.wantValue(fmt.Sprintf(`certinit_certificate_not_after_timestamp_seconds{role="cert",path=%q}`, b.cert), float64(b.leaf.NotAfter.Unix()))
	if code := b.health(true); code != 0 {
		t.Fatalf("health --ready of a broker serving a fresh certificate: exit %d", code)
	}

	b.renew(60 * 24 * time.Hour)
	b.reloaded()

	// A key that does not match: refused after --settle, counted once.
	_, other := b.ca.Issue(t, testutil.Localhost())
	testutil.WriteFile(t, filepath.Dir(b.key), filepath.Base(b.key), testutil.KeyPEM(t, other))
	b.run.WaitRecords(testutil.Message("reload refused"), 1)
	b.wantValue(`certinit_reloads_total{result="refused",reason="key_mismatch"}`, 1)
	b.wantValue(`sum(certinit_reloads_total{result="refused"})`, 1)
	b.renew(60 * 24 * time.Hour)
	b.reloaded()

	// A --restart-on file: a restart, and the broker up again.
	testutil.RenameOver(t, b.restartOn, testutil.CertPEM(testutil.NewCA(t, "clients 2").Cert))
	b.run.WaitRecords(testutil.Message("restarting"), 1)
	b.run.WaitRecords(testutil.Message("child started"), 2)
	b.wantValue(`certinit_broker_restarts_total{reason="reload"}`, 1)
	b.wantValue(`certinit_reloads_total{result="ok",reason="restart"}`, 1)
	b.wantValue(`certinit_broker_up`, 1)

	// A certificate that expires within --ready-min-validity: served, but
	// not ready, and warned about.
	b.renew(30 * time.Minute)
	b.reloaded()
	testutil.Eventually(t, scrapeWithin, func() (bool, string) {
		return b.health(true) == 1, "health --ready still exits 0"
	})
	if code := b.health(false); code != 0 {
		t.Errorf("health (liveness) with a short certificate: exit %d, want 0", code)
	}
	b.run.WaitRecords(testutil.All(testutil.HasAttr("path", b.cert), testutil.HasAttr("reason", "ready_min_validity")), 1)
	b.renew(90 * 24 * time.Hour)
	b.reloaded()
	testutil.Eventually(t, scrapeWithin, func() (bool, string) {
		return b.health(true) == 0, "health --ready still exits 1 after the renewal"
	})
}

// goroutineStacks ends c with SIGABRT, on which the Go runtime prints the
// stack of every goroutine (all of them: the caller set GOTRACEBACK=all
// before starting it), and returns those stacks, one per goroutine.
// COMMAND, left behind, is killed once the dump began: it holds the output
// pipe open.
func goroutineStacks(t *testing.T, c *testutil.Certinit) []string {
	t.Helper()
	children := c.ChildPIDs()
	c.Signal(syscall.SIGABRT)
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(c.Out.String(), "\ngoroutine "), "no goroutine dump after SIGABRT"
	})
	for _, pid := range children {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	c.Wait(10 * time.Second)
	out := c.Out.String()
	return strings.Split(out[strings.Index(out, "\ngoroutine ")+1:], "\n\n")
}

// TestRunMetricsOff: without --metrics-addr, run opens no socket at all
// and runs nothing of the metrics (no HTTP server, nothing of Prometheus'
// library, no Monitor); with it, the listener is open and served before
// the preparation ends, so /healthz answers while certinit waits for its
// certificate (--wait).
func TestRunMetricsOff(t *testing.T) {
	sleep := testutil.RequireTool(t, "sleep")
	t.Setenv("GOTRACEBACK", "all")
	metricsFrames := []string{"net/http.", "prometheus", "certinit/metrics.Start", "certinit/metrics.(*Monitor)"}
	off := testutil.StartCertinit(t, false, "run", "--", sleep, "60")
	off.WaitRecords(testutil.Message("child started"), 1)
	if n := testutil.Sockets(t, off.PID); n != 0 {
		t.Errorf("run without --metrics-addr has %d sockets open", n)
	}
	stacks := goroutineStacks(t, off)
	if !slices.ContainsFunc(stacks, func(s string) bool { return strings.Contains(s, "supervisor.startReaper") }) {
		t.Fatalf("the dump lacks the supervisor's reaper:\n%s", strings.Join(stacks, "\n\n"))
	}
	for _, s := range stacks {
		if slices.ContainsFunc(metricsFrames, func(f string) bool { return strings.Contains(s, f) }) {
			t.Errorf("run without --metrics-addr runs a goroutine of the metrics:\n%s", s)
		}
	}

	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	waiting := testutil.StartCertinit(t, false, "run", "--cert", filepath.Join(dir, "cert.pem"), "--key", filepath.Join(dir, "key.pem"),
		"--wait", "1m", "--metrics-addr", addr, "--", sleep, "60")
	bin := testutil.BuildCertinit(t)
	testutil.Eventually(t, scrapeWithin, func() (bool, string) {
		r := testutil.Run(t, exec.Command(bin, "health", "--addr", addr))
		return r.Code == 0 && strings.TrimSpace(r.Stdout) == "preparing", "health while waiting: " + r.Stdout + r.Stderr
	})
	if r := testutil.Run(t, exec.Command(bin, "health", "--ready", "--addr", addr)); r.Code != 1 {
		t.Errorf("health --ready while waiting for the certificate: exit %d, want 1", r.Code)
	}
	if n := testutil.Sockets(t, waiting.PID); n < 1 {
		t.Errorf("run --metrics-addr has %d sockets open", n)
	}
	serving := func(s string) bool { return strings.Contains(s, "net/http.(*Server).Serve") }
	if !slices.ContainsFunc(goroutineStacks(t, waiting), serving) {
		t.Error("run --metrics-addr runs no HTTP server")
	}
}
