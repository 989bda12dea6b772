package metrics

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/probe"
)

// serving reports whether a goroutine that Start started is alive.
func serving(t *testing.T) bool {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Contains(b.String(), "created by github.com/certinit/certinit/metrics.Start ")
}

// TestStartDisabled: without an address Start opens no socket and starts
// no goroutine; with one it does both (so the counts can see them), and
// Close ends them.
func TestStartDisabled(t *testing.T) {
	m := New(Options{Version: "dev"})
	socks, wasServing := testutil.Sockets(t, os.Getpid()), serving(t)
	if wasServing {
		t.Fatal("a goroutine of Start runs before the test")
	}
	srv, err := Start("", m)
	if err != nil || srv != nil {
		t.Fatalf(`Start(""): %v, %v; want nil, nil`, srv, err)
	}
	if n, s := testutil.Sockets(t, os.Getpid()), serving(t); n != socks || s {
		t.Fatalf(`Start(""): %d sockets (before: %d), serving %v`, n, socks, s)
	}
	srv.Close() // a nil *Server closes as nothing

	srv, err = Start("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	if n, s := testutil.Sockets(t, os.Getpid()), serving(t); n <= socks || !s {
		srv.Close()
		t.Fatalf("Start(127.0.0.1:0): %d sockets (before: %d), serving %v", n, socks, s)
	}
	srv.Close()
	if n := testutil.Sockets(t, os.Getpid()); n != socks {
		t.Errorf("after Close: %d sockets, before Start %d", n, socks)
	}
	// The goroutine ends right after Close returns; nothing announces it.
	testutil.Eventually(t, 5*time.Second, func() (bool, string) { return !serving(t), "still serving after Close" })
}

// TestStartBusyPort: a port already taken is an error from Start, before
// anything else would start.
func TestStartBusyPort(t *testing.T) {
	first, err := Start("127.0.0.1:0", New(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if srv, err := Start(first.Addr(), New(Options{})); err == nil {
		srv.Close()
		t.Fatalf("a second listener on %s started", first.Addr())
	}
}

// get asks path of srv without keeping the connection.
func get(t *testing.T, srv *Server, path string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := client.Get("http://" + srv.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// wantHealth checks both endpoints: their codes, and that each answer is
// one line (naming want, when given).
func wantHealth(t *testing.T, srv *Server, health, ready int, want string) {
	t.Helper()
	for _, c := range []struct {
		path string
		code int
	}{{HealthPath, health}, {ReadyPath, ready}} {
		code, body := get(t, srv, c.path)
		if code != c.code {
			t.Errorf("%s: %d %q, want %d", c.path, code, body, c.code)
		}
		if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
			t.Errorf("%s: answer %q is not one line", c.path, body)
		}
		if c.code != http.StatusOK && c.path == ReadyPath && !strings.Contains(body, want) {
			t.Errorf("%s: %q does not name %q", c.path, body, want)
		}
	}
}

// TestHealthLifecycle follows one run: preparation (healthy, not ready),
// the broker up with a certificate near its end (healthy, not ready), the
// certificate renewed (ready), the broker not answering, then gone.
func TestHealthLifecycle(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	_, cert, _ := p.pair(t, "tls", now.Add(-time.Hour), now.Add(30*time.Minute))
	m := New(Options{MinValidity: time.Hour, Certs: []Cert{{Role: RoleCert, Path: cert}, {Role: RoleTrust, Path: p.caFile}}})
	srv, err := Start("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	wantHealth(t, srv, 200, 503, "preparing")
	m.BrokerUp(true)
	wantHealth(t, srv, 200, 503, cert)
	renewed, _, _ := p.pair(t, "renewed", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	testutil.RenameOver(t, cert, testutil.CertPEM(renewed))
	wantHealth(t, srv, 200, 200, "")
	m.Answering(false)
	wantHealth(t, srv, 503, 503, "answering")
	m.Answering(true)
	wantHealth(t, srv, 200, 200, "")
	m.BrokerUp(false)
	wantHealth(t, srv, 503, 503, "not running")
}

// TestReadyServed: readiness goes by what the broker serves (a real
// Mosquitto), not by the files, when a listener is known: expired, not
// yet valid, too close to its end, unreachable, or fine.
func TestReadyServed(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	_, fresh, freshKey := p.pair(t, "fresh", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	_, soon, soonKey := p.pair(t, "soon", now.Add(-time.Hour), now.Add(30*time.Minute))
	_, later, laterKey := p.pair(t, "later", now.Add(time.Hour), now.Add(90*24*time.Hour))
	closed := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	unreachable := Cert{Role: RoleServed, Path: fresh, Served: func(ctx context.Context) ([]*x509.Certificate, error) {
		return probe.ServedChain(ctx, closed, "")
	}}
	for _, tc := range []struct {
		name   string
		served Cert
		ready  int
		clock  time.Time // zero: now
	}{
		{"fresh", serve(t, fresh, freshKey), 200, time.Time{}},
		{"less than --ready-min-validity left", serve(t, soon, soonKey), 503, time.Time{}},
		{"expired (the clock moved on)", serve(t, fresh, freshKey), 503, now.Add(100 * 24 * time.Hour)},
		{"not yet valid", serve(t, later, laterKey), 503, time.Time{}},
		{"unreachable", unreachable, 503, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The file on disk is fresh in every case: the answer must
			// come from the handshake.
			m := New(Options{MinValidity: time.Hour, Certs: []Cert{{Role: RoleCert, Path: fresh}, tc.served}})
			if !tc.clock.IsZero() {
				m.now = at(tc.clock)
			}
			m.BrokerUp(true)
			srv, err := Start("127.0.0.1:0", m)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			wantHealth(t, srv, 200, tc.ready, "served certificate")
		})
	}
}

// TestCheck: the client of `certinit health` gets the one-line answer of
// a 200, an error carrying the line of a 503, and an error when nothing
// listens.
func TestCheck(t *testing.T) {
	m := New(Options{})
	srv, err := Start("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := Check(ctx, srv.Addr(), false); err != nil || got != "preparing" {
		t.Errorf("Check healthz while preparing: %q, %v", got, err)
	}
	if got, err := Check(ctx, srv.Addr(), true); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "preparing") {
		t.Errorf("Check readyz while preparing: %q, %v; want an error with the 503 and its reason", got, err)
	}
	m.BrokerUp(true)
	if got, err := Check(ctx, srv.Addr(), true); err != nil || got != "ok" {
		t.Errorf("Check readyz of a running broker without certificates: %q, %v", got, err)
	}
	addr := srv.Addr()
	srv.Close()
	if got, err := Check(ctx, addr, false); err == nil {
		t.Errorf("Check of a closed listener: %q and no error", got)
	}
}

func TestDialAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{":9464", "127.0.0.1:9464"},
		{"0.0.0.0:9464", "127.0.0.1:9464"},
		{"[::]:9464", "[::1]:9464"},
		{"127.0.0.2:9464", "127.0.0.2:9464"},
		{"localhost:9464", "localhost:9464"},
		{"9464", ""},
		{"host:", ""},
		{"", ""},
	} {
		got, err := DialAddr(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("DialAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
