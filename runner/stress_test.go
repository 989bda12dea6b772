package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// TestStressRenewals renews the certificate of a real Mosquitto under
// certinit run --copy-to many times in a row, with a subscriber connected
// and a client doing TLS handshakes all the time. No handshake may fail,
// the subscriber must keep its one connection, and certinit must not leak:
// its open file descriptors stay as they were after the first renewals,
// and its threads and resident memory are flat over the second half of the
// run (the first half lets the Go heap grow to its steady size). certinit
// exposes no goroutine count; a leaked goroutine that holds anything shows
// as one of these.
func TestStressRenewals(t *testing.T) {
	n := testutil.Scale(20, 200)
	const warm = 3 // renewals before the fd baseline: lazily opened files and threads
	b := newBroker(t)
	certPath, keyPath := startCopying(t, b)
	sub := b.subscribe()

	hs := b.handshakes(t)
	pid := b.PID
	var first, mid, peak testutil.ProcUsage
	var lat []time.Duration
	start := time.Now()
	for i := 1; i <= n; i++ {
		cert, key, serial := b.issue(testutil.CertOpts{})
		testutil.RenameOver(t, keyPath, key)
		testutil.RenameOver(t, certPath, cert)
		lat = append(lat, mosquittotest.WaitServed(t, 10*time.Second, serial, b.servedTLS))
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
	waitGot(t, sub, "after")
	slices.Sort(lat)
	t.Logf("%d renewals in %s; served after median %s, worst %s", n, took.Round(time.Millisecond),
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	t.Logf("%d handshakes, %d failed; subscriber connected %d time(s)", ok+int64(len(failed)), len(failed), sub.Connects())
	t.Logf("certinit after renewal %d: %s; after %d: %s; after %d: %s; peak: %s", warm, first, n/2, mid, n, end, peak)
	if len(failed) > 0 {
		t.Errorf("%d handshakes failed, first: %s", len(failed), failed[0])
	}
	if ok == 0 {
		t.Error("no handshake succeeded")
	}
	if c := sub.Connects(); c != 1 {
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
// verified Go TLS handshake: cheaper than openssl s_client, for a test
// that asks often.
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

// waitServedTLS is waitServed through servedTLS.
func (b *broker) waitServedTLS(serial *big.Int, within time.Duration) time.Duration {
	b.t.Helper()
	return mosquittotest.WaitServed(b.t, within, serial, b.servedTLS)
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
