package main

import (
	"net"
	"strconv"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/metrics"
)

// startMetrics serves a Monitor as run --metrics-addr does.
func startMetrics(t *testing.T) (*metrics.Monitor, string) {
	t.Helper()
	m := metrics.New(metrics.Options{Version: version})
	srv, err := metrics.Start("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return m, srv.Addr()
}

// TestHealth: exit 0 with the answer on standard output for a 200, exit 1
// with the answer as the one error line otherwise, as a HEALTHCHECK needs.
func TestHealth(t *testing.T) {
	m, addr := startMetrics(t)
	code, out, stderr := runCLI(t, "health", "--addr", addr)
	if code != 0 || out != "preparing\n" || stderr != "" {
		t.Errorf("health while preparing: exit %d, stdout %q, stderr %q; want 0, the answer", code, out, stderr)
	}
	code, _, stderr = runCLI(t, "health", "--ready", "--addr", addr)
	requireErrorLine(t, 1, code, stderr, "/readyz", "503", "preparing")
	m.BrokerUp(true)
	code, out, _ = runCLI(t, "health", "--ready", "--addr", addr)
	if code != 0 || out != "ok\n" {
		t.Errorf("health --ready of a running broker: exit %d, stdout %q", code, out)
	}
	m.BrokerUp(false)
	code, _, stderr = runCLI(t, "health", "--addr", addr)
	requireErrorLine(t, 1, code, stderr, "/healthz", "503")

	closed := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	code, _, stderr = runCLI(t, "health", "--addr", closed)
	requireErrorLine(t, 1, code, stderr, closed)
}

// TestHealthAddr: without --addr, health asks the listener that
// CERTINIT_METRICS_ADDR (run's --metrics-addr) names, a listener on every
// address through the loopback address; --addr and CERTINIT_ADDR win;
// nothing at all, or an address that is not HOST:PORT, is a usage error
// naming where it came from.
func TestHealthAddr(t *testing.T) {
	_, addr := startMetrics(t)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	closed := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))

	t.Run("CERTINIT_METRICS_ADDR on every address", func(t *testing.T) {
		t.Setenv("CERTINIT_METRICS_ADDR", ":"+port)
		if code, out, stderr := runCLI(t, "health"); code != 0 {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("CERTINIT_ADDR wins", func(t *testing.T) {
		t.Setenv("CERTINIT_METRICS_ADDR", closed)
		t.Setenv("CERTINIT_ADDR", addr)
		if code, out, stderr := runCLI(t, "health"); code != 0 {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("--addr wins", func(t *testing.T) {
		t.Setenv("CERTINIT_METRICS_ADDR", closed)
		if code, out, stderr := runCLI(t, "health", "--addr", addr); code != 0 {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		code, _, stderr := runCLI(t, "health")
		requireUsageError(t, code, stderr, "--addr", "CERTINIT_METRICS_ADDR")
	})
	t.Run("not HOST:PORT", func(t *testing.T) {
		code, _, stderr := runCLI(t, "health", "--addr", "9464")
		requireUsageError(t, code, stderr, "--addr", `"9464"`)
		t.Setenv("CERTINIT_METRICS_ADDR", "9464")
		code, _, stderr = runCLI(t, "health")
		requireUsageError(t, code, stderr, "CERTINIT_METRICS_ADDR", `"9464"`)
	})
	t.Run("an argument", func(t *testing.T) {
		code, _, stderr := runCLI(t, "health", addr)
		requireUsageError(t, code, stderr, addr)
	})
}
