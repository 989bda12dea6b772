package runner

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/mosquittoconf"
)

// TestLivenessListeners: which listeners of a configuration the check
// may ask, in its order (plain MQTT first), and whether over TLS.
func TestLivenessListeners(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       []string // "HOST:PORT", " tls" added for TLS
	}{
		{"no listener: Mosquitto 2.0's local-only one", "persistence false\n", []string{"127.0.0.1:1883"}},
		{"plain before TLS", "listener 8883\ncertfile /c.pem\nkeyfile /k.pem\nlistener 1883 127.0.0.1\n",
			[]string{"127.0.0.1:1883", "127.0.0.1:8883 tls"}},
		{"every address, IPv6", "listener 1883 ::\nlistener 1884\nsocket_domain ipv6\n", []string{"[::1]:1883", "[::1]:1884"}},
		{"a named address", "listener 1883 mqtt.internal\n", []string{"mqtt.internal:1883"}},
		{"the default listener", "port 1885\nbind_address 127.0.0.2\n", []string{"127.0.0.2:1885"}},
		{"the default listener without a port line", "certfile /c.pem\nkeyfile /k.pem\nlistener 1884\n",
			[]string{"127.0.0.1:1884", "127.0.0.1:1883 tls"}},
		{"websockets and Unix sockets are skipped", "listener 9001\nprotocol websockets\nlistener 0 /run/mqtt.sock\nlistener 8884\npsk_hint hint\n",
			[]string{"127.0.0.1:8884 tls"}},
		{"a certfile without keyfile is plain", "listener 8883\ncertfile /c.pem\n", []string{"127.0.0.1:8883"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, _, err := mosquittoconf.Load(testutil.WriteFile(t, t.TempDir(), "m.conf", []byte(tc.conf)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range livenessListeners(conf) {
				s := e.Addr
				if e.TLS {
					s += " tls"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// livenessBroker starts a real Mosquitto with one listener on 127.0.0.1
// shaped by extra, and returns its configuration as run would load it.
func livenessBroker(t *testing.T, extra ...string) (*mosquittotest.Broker, *mosquittoconf.Config) {
	t.Helper()
	dir := testutil.ReadableDir(t)
	lines := append([]string{fmt.Sprintf("listener %d 127.0.0.1", testutil.FreePort(t)), "persistence false", "user root"}, extra...)
	if !slices.ContainsFunc(extra, func(l string) bool { return strings.HasPrefix(l, "allow_anonymous ") }) {
		lines = append(lines, "allow_anonymous true")
	}
	b := mosquittotest.Start(t, dir, strings.Join(lines, "\n")+"\n")
	conf, _, err := mosquittoconf.Load(b.ConfPath)
	if err != nil {
		t.Fatal(err)
	}
	return b, conf
}

// tlsLines are a TLS listener's lines with a certificate from a new CA
// (o shapes it), written to dir.
func tlsLines(t *testing.T, o testutil.CertOpts) []string {
	dir := testutil.ReadableDir(t)
	ca := testutil.NewCA(t, "liveness CA")
	l := testutil.Localhost()
	o.Subject, o.DNSNames, o.IPs = l.Subject, l.DNSNames, l.IPs
	c, k := ca.Issue(t, o)
	return []string{"certfile " + testutil.WriteFile(t, dir, "server.pem", testutil.CertPEM(c)),
		"keyfile " + testutil.WriteFile(t, dir, "server-key.pem", testutil.KeyPEM(t, k)),
		"cafile " + testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))}
}

var quickLiveness = Liveness{Interval: 50 * time.Millisecond, Threshold: 2, Timeout: 2 * time.Second}

// TestLivenessCheckAnswers: a real Mosquitto answers the check, over plain
// MQTT with a CONNACK (of any code), and over TLS also when it refuses the
// handshake (client certificates required) or serves an expired
// certificate, which the check does not judge. With only an address, the
// check finds out whether the listener speaks TLS. The broker's log shows
// the CONNACK it sent to the check's client id.
func TestLivenessCheckAnswers(t *testing.T) {
	const accepted = "Sending CONNACK to certinit-liveness-"
	expired := testutil.CertOpts{NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}
	for _, tc := range []struct {
		name     string
		extra    []string
		addrOnly bool // --liveness-addr without a configuration
		layer    string
		logged   string // what the broker logs for the check; "": nothing to look for
	}{
		{"plain MQTT", nil, false, "mqtt", accepted},
		{"anonymous refused: CONNACK 5", []string{"allow_anonymous false"}, false, "mqtt", "Sending CONNACK to 127.0.0.1 (0, 5)"},
		{"TLS", tlsLines(t, testutil.CertOpts{}), false, "mqtt", accepted},
		{"TLS requiring client certificates: an alert", append(tlsLines(t, testutil.CertOpts{}), "require_certificate true"), false, "tls", ""},
		{"TLS with an expired certificate", tlsLines(t, expired), false, "mqtt", accepted},
		{"plain MQTT, found from the address", nil, true, "mqtt", accepted},
		{"TLS, found from the address", tlsLines(t, testutil.CertOpts{}), true, "mqtt", accepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, conf := livenessBroker(t, tc.extra...)
			cfg := quickLiveness
			if tc.addrOnly {
				cfg.Addr, conf = livenessListeners(conf)[0].Addr, nil
			}
			l := newLiveness(cfg, conf, testutil.Logger(t))
			layer, err := l.check(context.Background())
			if err != nil || layer != tc.layer {
				t.Fatalf("check: layer %q, %v; want %q", layer, err, tc.layer)
			}
			if tc.logged != "" {
				testutil.Eventually(t, 5*time.Second, func() (bool, string) {
					return strings.Contains(b.Log(), tc.logged), "the broker did not log " + tc.logged + "; log:\n" + b.Log()
				})
			}
		})
	}
}

// TestLivenessCheckMisses: nothing listening, a listener that accepts
// and says nothing, and one that closes at once are missed checks, each
// within the timeout.
func TestLivenessCheckMisses(t *testing.T) {
	silent := testutil.ServeTCP(t, func(c net.Conn) { buf := make([]byte, 1); c.Read(buf) })
	closing := testutil.ServeTCP(t, func(c net.Conn) { c.Close() })
	for name, addr := range map[string]string{
		"nothing listening": "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t)),
		"silent listener":   silent,
		"closes at once":    closing,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := quickLiveness
			cfg.Timeout, cfg.Addr = 300*time.Millisecond, addr
			l := newLiveness(cfg, nil, testutil.Logger(t))
			start := time.Now()
			if layer, err := l.check(context.Background()); err == nil {
				t.Fatalf("check answered at layer %q", layer)
			}
			// Both modes are tried while the listener's is not known.
			if took := time.Since(start); took > 2*cfg.Timeout+time.Second {
				t.Fatalf("the check took %s with a %s timeout", took, cfg.Timeout)
			}
		})
	}
}

// TestLivenessRunRestarts: the loop restarts a broker that stopped
// answering (SIGSTOP) after Threshold missed checks, not before, reports
// each result through its callback: not answering meanwhile, and
// answering once it answers again.
func TestLivenessRunRestarts(t *testing.T) {
	b, conf := livenessBroker(t)
	logs, log := testutil.NewLogs(t)
	cfg := quickLiveness
	cfg.Timeout = 200 * time.Millisecond
	l := newLiveness(cfg, conf, log)
	var restarts atomic.Int32
	var answering atomic.Bool // the last result the loop reported
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx, answering.Store, func() error {
			restarts.Add(1)
			return syscall.Kill(b.PID(), syscall.SIGCONT) // as good as a new broker, for the loop
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	logs.WaitFor(testutil.Message("broker answered"), 5*time.Second)
	if !answering.Load() {
		t.Fatal("reported not answering after an answer")
	}
	if err := syscall.Kill(b.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(b.PID(), syscall.SIGCONT) })
	miss := logs.WaitFor(testutil.Message("broker did not answer"), 5*time.Second)
	if miss.Attrs["misses"] != "1" || restarts.Load() != 0 {
		t.Fatalf("first miss %v, restarts %d", miss.Attrs, restarts.Load())
	}
	if answering.Load() && restarts.Load() == 0 {
		t.Fatal("reported answering after a missed check")
	}
	r := logs.WaitFor(testutil.Message("broker not answering"), 5*time.Second)
	if r.Attrs["misses"] != "2" || r.Attrs["addr"] != l.addr {
		t.Fatalf("restart record %v", r.Attrs)
	}
	testutil.Eventually(t, 5*time.Second, func() (bool, string) {
		return restarts.Load() == 1 && answering.Load(), fmt.Sprintf("%d restarts, answering %v", restarts.Load(), answering.Load())
	})
}

// TestRunLivenessRestartsStoppedBroker: certinit run notices a broker
// that is alive but no longer answers (SIGSTOP: it cannot even take
// SIGTERM), restarts it (SIGKILL after --stop-timeout), logging why, and
// the new broker serves clients again.
func TestRunLivenessRestartsStoppedBroker(t *testing.T) {
	b := newBroker(t)
	b.conf = testutil.WriteFile(t, b.dir, "mosquitto.conf",
		[]byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n", b.port)))
	b.start("--liveness-interval", "200ms", "--liveness-timeout", "300ms", "--liveness-threshold", "3", "--stop-timeout", "1s")
	b.WaitRecords(testutil.Message("broker answered"), 1)
	plain := mosquittotest.Endpoint{Port: b.port}
	mustPublish(t, plain, "before")
	first := b.ChildPIDs()
	if len(first) != 1 {
		t.Fatalf("child pids %v", first)
	}
	if err := syscall.Kill(first[0], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	r := b.WaitRecords(testutil.Message("broker not answering"), 1)
	if r.Attrs["misses"] != "3" || r.Attrs["addr"] != "127.0.0.1:"+strconv.Itoa(b.port) || r.Attrs["reason"] == "" {
		t.Fatalf("restart record %v", r.Attrs)
	}
	answered := b.Count(testutil.Message("broker answered"))
	b.WaitRecords(testutil.Message("child did not stop in time, killing"), 1)
	b.WaitRecords(testutil.Message("child started"), 2)
	if syscall.Kill(first[0], 0) == nil {
		t.Fatalf("the stopped broker %d is still there", first[0])
	}
	// The check is a client too: once it is answered, the new broker serves.
	b.WaitRecords(testutil.Message("broker answered"), answered+1)
	sub := mosquittotest.Subscribe(t, plain, "certinit/test")
	mustPublish(t, plain, "after")
	waitGot(t, sub, "after")
	if n := b.Count(testutil.Message("broker not answering")); n != 1 {
		t.Fatalf("%d liveness restarts; the restarted broker answers", n)
	}
}
