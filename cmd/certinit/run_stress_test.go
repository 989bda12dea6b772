package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// Stress tests of certinit run with the real binary: many orphans to reap,
// a storm of signals to forward, many renewals in a row under load. The
// sizes are short in `make test` and full under `-tags stress`.

// supervised is a certinit run started in the background, either as PID 1
// of a new PID namespace (what a container gives it) or as an ordinary
// child of the test, where it makes itself a child subreaper.
type supervised struct {
	t    *testing.T
	cmd  *exec.Cmd
	pid  int // certinit's PID as the test sees it
	logs *syncBuffer
	done chan struct{}
	code int
}

// startSupervised runs `certinit ARGS`, as PID 1 when asPID1.
func startSupervised(t *testing.T, asPID1 bool, args ...string) *supervised {
	t.Helper()
	bin := testutil.BuildCertinit(t)
	s := &supervised{t: t, logs: &syncBuffer{}, done: make(chan struct{})}
	if asPID1 {
		testutil.RequireRoot(t)
		unshare := testutil.RequireTool(t, "unshare")
		s.cmd = exec.Command(unshare, append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", bin}, args...)...)
	} else {
		s.cmd = exec.Command(bin, args...)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait()
		s.code = s.cmd.ProcessState.ExitCode()
		if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			s.code = 128 + int(ws.Signal())
		}
		close(s.done)
	}()
	t.Cleanup(s.cleanup)
	s.pid = s.cmd.Process.Pid
	if asPID1 {
		// certinit is unshare's only child (unshare forks, then execs it).
		poll(t, 10*time.Second, "certinit under unshare", func() bool {
			for pid := range testutil.ChildrenOf(s.cmd.Process.Pid) {
				s.pid = pid
				return true
			}
			return false
		})
	}
	return s
}

func (s *supervised) cleanup() {
	select {
	case <-s.done:
	default:
		syscall.Kill(s.pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
			s.t.Error("certinit did not stop within 15s of SIGTERM")
		}
	}
	if s.t.Failed() {
		s.t.Logf("certinit output (last 8 KiB):\n%s", tail(s.logs.String(), 8<<10))
	}
}

// stop sends SIGTERM to certinit and returns its exit code.
func (s *supervised) stop() int {
	s.t.Helper()
	if err := syscall.Kill(s.pid, syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.done:
		return s.code
	case <-time.After(15 * time.Second):
		s.t.Fatal("certinit still running 15s after SIGTERM")
		return -1
	}
}

func (s *supervised) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

var supervisorModes = []struct {
	name   string
	asPID1 bool
}{
	{"PID 1", true},
	{"subreaper", false},
}

// TestStressReapsOrphans: the child starts a shell that starts many
// sleepers in the background and exits at once, so every sleeper is
// re-parented to certinit. The test then kills them all at once (SIGKILL
// to each), a storm of exits. certinit must reap each one (its debug log
// names every orphan it reaped) and leave no zombie. Then SIGTERM stops
// the child and certinit exits 143.
func TestStressReapsOrphans(t *testing.T) {
	n := testutil.Scale(200, 1000)
	for _, mode := range supervisorModes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			spawned := filepath.Join(dir, "spawned")
			script := fmt.Sprintf(`sh -c 'i=0; while [ $i -lt %d ]; do sleep 3600 & i=$((i+1)); done'
echo > %s
exec sleep 3601`, n, spawned)
			s := startSupervised(t, mode.asPID1, "--log-level", "debug", "run", "--", "sh", "-c", script)
			start := time.Now()
			poll(t, 120*time.Second, "the orphans to be started", func() bool { return exists(spawned) })
			spawnTook := time.Since(start)
			// A sleeper the shell forked may not have exec'd sleep yet
			// (its command line is still the shell's): wait until all have.
			var orphans []int
			poll(t, 60*time.Second, fmt.Sprintf("%d orphaned sleepers as children of certinit", n), func() bool {
				orphans = orphans[:0]
				for pid := range testutil.ChildrenOf(s.pid) {
					if cmdline(pid) == "sleep 3600" {
						orphans = append(orphans, pid)
					}
				}
				return len(orphans) == n
			})

			start = time.Now()
			for _, pid := range orphans {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			maxZombies := 0
			var children map[int]testutil.ProcStatus
			poll(t, 120*time.Second, fmt.Sprintf("%d orphans reaped", n), func() bool {
				children = testutil.ChildrenOf(s.pid)
				z := 0
				for _, st := range children {
					if st.Zombie() {
						z++
					}
				}
				maxZombies = max(maxZombies, z)
				return len(children) == 1 && strings.Count(s.logs.String(), `msg="reaped orphan"`) >= n
			})
			took := time.Since(start)
			if got := strings.Count(s.logs.String(), `msg="reaped orphan"`); got != n {
				t.Errorf("certinit reaped %d orphans, want %d", got, n)
			}
			for pid, st := range children {
				if st.Zombie() {
					t.Errorf("child %d of certinit is a zombie", pid)
				}
			}
			t.Logf("%d orphans started in %s; all reaped %s after they were killed; at most %d zombies seen at once",
				n, spawnTook.Round(time.Millisecond), took.Round(time.Millisecond), maxZombies)
			if code := s.stop(); code != 143 {
				t.Fatalf("exit %d after SIGTERM, want 143", code)
			}
		})
	}
}

// cmdline is pid's command line, arguments separated by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// stormScript records each HUP and USR1 it receives, with the marker the
// test wrote before sending it, in the file got. It waits with the wait
// builtin, which a trapped signal interrupts, so traps run at once. On
// TERM it dies of TERM (after stopping its sleeper).
const stormScript = `
dir=%s
rec() { read m < "$dir/marker"; echo "$1 $m" >> "$dir/got"; }
trap 'rec HUP' HUP
trap 'rec USR1' USR1
sleep 3600 & sp=$!
trap 'kill $sp; trap - TERM; kill -TERM $$' TERM
echo > "$dir/ready"
while :; do wait $sp; done`

// TestStressSignalStorm sends certinit thousands of SIGHUP and SIGUSR1,
// interleaved, then in two rounds a burst of one kind followed by a single
// signal of the other. The single signal must reach the child even though
// the burst before it is still being forwarded: it is the last of its kind,
// and losing it would lose a request for good. The child records what it
// receives with the round's marker. Afterwards certinit still runs and
// SIGTERM stops it with 143.
func TestStressSignalStorm(t *testing.T) {
	n := testutil.Scale(500, 5000)
	for _, mode := range supervisorModes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			setMarker(t, dir, "storm")
			s := startSupervised(t, mode.asPID1, "--log-level", "debug", "run", "--", "sh", "-c", fmt.Sprintf(stormScript, dir))
			poll(t, 10*time.Second, "the child's traps", func() bool { return exists(filepath.Join(dir, "ready")) })

			kill := func(sig syscall.Signal) {
				if err := syscall.Kill(s.pid, sig); err != nil {
					t.Fatalf("kill %d: %v", s.pid, err)
				}
			}
			start := time.Now()
			for range n {
				kill(syscall.SIGHUP)
				kill(syscall.SIGUSR1)
			}
			sent := 2 * n
			rounds := []struct {
				marker      string
				burst, last syscall.Signal
				want        string
			}{
				{"r1", syscall.SIGHUP, syscall.SIGUSR1, "USR1 r1"},
				{"r2", syscall.SIGUSR1, syscall.SIGHUP, "HUP r2"},
			}
			for _, r := range rounds {
				setMarker(t, dir, r.marker)
				for range n {
					kill(r.burst)
				}
				kill(r.last)
				sent += n + 1
				poll(t, 15*time.Second, fmt.Sprintf("%q: the last signal of round %s", r.want, r.marker), func() bool {
					return slices.Contains(readLines(filepath.Join(dir, "got")), r.want)
				})
			}
			took := time.Since(start)
			got := readLines(filepath.Join(dir, "got"))
			count := map[string]int{}
			for _, l := range got {
				kind, _, _ := strings.Cut(l, " ")
				count[kind]++
			}
			if count["HUP"] == 0 || count["USR1"] == 0 {
				t.Errorf("child received %v", count)
			}
			if s.exited() {
				t.Fatalf("certinit exited during the storm (code %d)", s.code)
			}
			out := s.logs.String()
			t.Logf("%d signals sent in %s; certinit forwarded %d HUP and %d USR1, the child's traps ran %d and %d times (the kernel, Go and the shell coalesce pending signals)",
				sent, took.Round(time.Millisecond), strings.Count(out, `msg="forwarding signal" signal=HUP`),
				strings.Count(out, `msg="forwarding signal" signal=USR1`), count["HUP"], count["USR1"])
			if code := s.stop(); code != 143 {
				t.Fatalf("exit %d after SIGTERM, want 143", code)
			}
			if out := s.logs.String(); strings.Contains(out, "panic") || strings.Contains(out, "fatal error") {
				t.Fatalf("certinit crashed:\n%s", tail(out, 4<<10))
			}
		})
	}
}

// setMarker replaces dir/marker at once (rename), so the child's read
// sees the old or the new marker, never an empty file.
func setMarker(t *testing.T, dir, m string) {
	t.Helper()
	testutil.RenameOver(t, filepath.Join(dir, "marker"), []byte(m+"\n"))
}

func readLines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// poll checks cond until it holds, failing the test after within.
func poll(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestStressRenewals renews the certificate of a real Mosquitto under
// certinit run --copy-to many times in a row, with a subscriber connected
// and a client doing TLS handshakes all the time. No handshake may fail,
// the subscriber must keep its one connection, and certinit must not leak:
// its open file descriptors stay as they were after the first renewals,
// and its threads and resident memory are flat over the second half of the
// run (the first half lets the Go heap grow to its steady size: 9.8 MiB
// after 3 renewals, 14-15 MiB from about the 60th on, measured). certinit
// exposes no goroutine count; a leaked goroutine that holds anything shows
// as one of these.
func TestStressRenewals(t *testing.T) {
	n := testutil.Scale(20, 200)
	const warm = 3 // renewals before the fd baseline: lazily opened files and threads
	b := newBroker(t)
	cert, key, serial := b.issue(testutil.CertOpts{})
	src := filepath.Join(b.dir, "src")
	certPath := testutil.WriteFile(t, src, "server.pem", cert)
	keyPath := testutil.WriteFile(t, src, "server-key.pem", key)
	copyDir := filepath.Join(b.dir, "broker-certs")
	b.writeConf(filepath.Join(copyDir, "server.pem"), filepath.Join(copyDir, "server-key.pem"), true)
	b.start("--cert", certPath, "--key", keyPath, "--copy-to", copyDir, "--debounce", "100ms")
	b.waitServed(serial, 10*time.Second)
	sub := b.subscribe()
	b.publish("before")
	waitText(t, sub.out, "certinit/test before", 10*time.Second)

	hs := b.handshakes(t)
	pid := b.cmd.Process.Pid
	var first, mid, peak testutil.ProcUsage
	var lat []time.Duration
	start := time.Now()
	for i := 1; i <= n; i++ {
		cert, key, serial := b.issue(testutil.CertOpts{})
		testutil.RenameOver(t, keyPath, key)
		testutil.RenameOver(t, certPath, cert)
		lat = append(lat, b.waitServedTLS(serial, 10*time.Second))
		u := testutil.Usage(t, pid)
		switch i {
		case warm:
			first = u
		case n / 2:
			mid = u
		}
		peak = testutil.ProcUsage{FDs: max(peak.FDs, u.FDs), Threads: max(peak.Threads, u.Threads), RSS: max(peak.RSS, u.RSS)}
	}
	took := time.Since(start)
	end := testutil.Usage(t, pid)
	ok, failed := hs.stop()

	b.publish("after")
	waitText(t, sub.out, "certinit/test after", 10*time.Second)
	slices.Sort(lat)
	t.Logf("%d renewals in %s; served after median %s, worst %s", n, took.Round(time.Millisecond),
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	t.Logf("%d handshakes, %d failed; subscriber connected %d time(s)", ok+int64(len(failed)), len(failed), sub.connects())
	t.Logf("certinit after renewal %d: %s; after %d: %s; after %d: %s; peak: %s", warm, first, n/2, mid, n, end, peak)
	if len(failed) > 0 {
		t.Errorf("%d handshakes failed, first: %s", len(failed), failed[0])
	}
	if ok == 0 {
		t.Error("no handshake succeeded")
	}
	if c := sub.connects(); c != 1 {
		t.Errorf("subscriber connected %d times; a reload dropped it", c)
	}
	if n/2 <= warm {
		return
	}
	if end.FDs > first.FDs {
		t.Errorf("open fds grew from %d to %d between renewals %d and %d", first.FDs, end.FDs, warm, n)
	}
	// A thread parked in a slow fsync and an unswept heap are noise; a
	// leak per renewal grows with n/2.
	if end.Threads > mid.Threads+2 {
		t.Errorf("threads grew from %d to %d between renewals %d and %d", mid.Threads, end.Threads, n/2, n)
	}
	if limit := mid.RSS + max(mid.RSS/5, 2<<20); end.RSS > limit {
		t.Errorf("RSS grew from %.1f to %.1f MiB between renewals %d and %d",
			float64(mid.RSS)/(1<<20), float64(end.RSS)/(1<<20), n/2, n)
	}
}

// tlsConfig trusts the broker's CA for the name in its certificates.
func (b *broker) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(b.ca.Cert)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// servedTLS returns the serial the broker presents now, through a
// verified Go TLS handshake.
func (b *broker) servedTLS() (*big.Int, error) {
	d := &tls.Dialer{Config: b.tlsConfig()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(b.port))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// waitServedTLS polls (Go's crypto/tls, cheaper than s_client) until the
// broker serves serial and returns how long that took.
func (b *broker) waitServedTLS(serial *big.Int, within time.Duration) time.Duration {
	b.t.Helper()
	return b.waitServedBy(b.servedTLS, serial, within, 10*time.Millisecond)
}

// handshaker does verified TLS handshakes with the broker until stopped.
type handshaker struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	ok    int64
	fails []string
}

func (b *broker) handshakes(t *testing.T) *handshaker {
	h := &handshaker{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			select {
			case <-h.stopc:
				return
			default:
			}
			_, err := b.servedTLS()
			h.mu.Lock()
			if err != nil {
				h.fails = append(h.fails, time.Now().Format("15:04:05.000")+" "+err.Error())
			} else {
				h.ok++
			}
			h.mu.Unlock()
			time.Sleep(5 * time.Millisecond) // pacing: about 100 handshakes a second on a shared machine
		}
	}()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop ends the loop and returns the successful count and the failures.
func (h *handshaker) stop() (int64, []string) {
	select {
	case <-h.stopc:
	default:
		close(h.stopc)
	}
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok, h.fails
}
