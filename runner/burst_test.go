package runner

import (
	"math/big"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// TestRunRenewalBurst: 100 certbot renewals in two seconds, each one
// swapping the live/ links one by one, while a client does verified TLS
// handshakes all along. Every handshake succeeds (a broker that loaded a
// certificate without its key fails them), the broker ends up serving the
// last renewal, certinit reloads fewer times than there were renewals, as
// changes that land during a reload are checked together after it, and
// refuses none.
func TestRunRenewalBurst(t *testing.T) {
	const renewals = 100
	const within = 2 * time.Second
	l := layouts[0] // certbot, served from --copy-to
	b := newBroker(t)
	startWith(t, b, l)
	type pair struct {
		cert, key []byte
		serial    *big.Int
	}
	pairs := make([]pair, renewals)
	for i := range pairs {
		pairs[i].cert, pairs[i].key, pairs[i].serial = b.issue(testutil.CertOpts{})
	}

	hs := b.handshakes(t)
	tick := time.NewTicker(within / renewals)
	start := time.Now()
	for i, p := range pairs {
		<-tick.C // pacing: the renewals are spread over the two seconds
		l.renew(t, b.dir, i+1, p.cert, p.key)
	}
	tick.Stop()
	wrote := time.Since(start)
	last := pairs[renewals-1].serial
	took := b.waitServedTLS(last, 10*time.Second)
	ok, failed := hs.stop()

	reloads, refusals := b.Count(reloadRecord), b.Count(refusedRecord)
	t.Logf("%d renewals written in %s; the last served %s later; %d reloads, %d refusals; %d handshakes, %d failed",
		renewals, wrote.Round(time.Millisecond), took.Round(time.Millisecond), reloads, refusals, ok+int64(len(failed)), len(failed))
	if len(failed) > 0 {
		t.Errorf("%d handshakes failed during the renewals, first: %s", len(failed), failed[0])
	}
	if ok == 0 {
		t.Error("no handshake succeeded")
	}
	if reloads == 0 || reloads >= renewals {
		t.Errorf("%d reloads for %d renewals, want fewer (and at least one)", reloads, renewals)
	}
	if refusals != 0 {
		t.Errorf("%d refusals of normal renewals", refusals)
	}
}

// TestRunHUPStorm: SIGHUP sent to certinit goes to the broker, which
// reloads. A storm of them while renewals keep landing leaves certinit
// running and reloading: each renewal is served, so is one after the
// storm, a client still publishes, and no handshake fails meanwhile (the
// HUPs reach the broker in step with the copies, never while it could be
// reading half of one).
func TestRunHUPStorm(t *testing.T) {
	const hups = 2000
	l := layouts[0]
	b := newBroker(t)
	startWith(t, b, l)
	hs := b.handshakes(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range hups {
			syscall.Kill(b.PID, syscall.SIGHUP) // certinit outlives the storm, or the test fails below
			time.Sleep(500 * time.Microsecond)  // pacing: a storm, not a busy loop
		}
	}()
	n := 0
	for storming := true; storming; {
		select {
		case <-done:
			storming = false
		default:
		}
		n++
		cert, key, serial := b.issue(testutil.CertOpts{})
		l.renew(t, b.dir, n, cert, key)
		b.waitServedTLS(serial, 10*time.Second)
	}
	cert, key, serial := b.issue(testutil.CertOpts{})
	l.renew(t, b.dir, n+1, cert, key)
	b.waitServedTLS(serial, servedWithin)
	ok, failed := hs.stop()
	b.publish("after the storm")

	forwarded := b.Count(testutil.All(testutil.Message("forwarding signal"), testutil.HasAttr("signal", "HUP")))
	t.Logf("%d SIGHUP sent to certinit, %d forwarded; %d renewals, %d reloads; %d handshakes, %d failed",
		hups, forwarded, n+1, b.Count(reloadRecord), ok+int64(len(failed)), len(failed))
	if len(failed) > 0 {
		t.Errorf("%d handshakes failed during the storm, first: %s", len(failed), failed[0])
	}
	if b.Exited() {
		t.Fatalf("certinit exited (code %d)", b.Code())
	}
	if forwarded == 0 {
		t.Error("no SIGHUP was forwarded to the broker")
	}
	if m := b.Count(reloadRecord); m != n+1 {
		t.Errorf("%d reloads for %d renewals", m, n+1)
	}
	if m := b.Count(refusedRecord); m != 0 {
		t.Errorf("%d refusals", m)
	}
}

// TestRunWatchedDirRecreated: the directory holding the pair is deleted
// (certinit sees the pair gone) and created again with a new pair, twice;
// the broker serves each new pair, and a renewal inside the new directory
// too, with the poll backstop off: the new directory is watched.
func TestRunWatchedDirRecreated(t *testing.T) {
	b := newBroker(t)
	dir := filepath.Join(b.dir, "tls")
	cert, key, serial := b.issue(testutil.CertOpts{})
	certPath, keyPath := testutil.WriteFile(t, dir, "server.pem", cert), testutil.WriteFile(t, dir, "server-key.pem", key)
	b.writeConf(certPath, keyPath, true)
	b.start("--cert", certPath, "--key", keyPath, "--poll", "0")
	b.waitServed(serial, 10*time.Second)

	for round := 1; round <= 2; round++ {
		seen := b.Count(notSettledRecord)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		b.WaitRecords(notSettledRecord, seen+1)
		cert, key, serial := b.issue(testutil.CertOpts{})
		testutil.WriteFile(t, dir, "server-key.pem", key)
		testutil.WriteFile(t, dir, "server.pem", cert)
		b.waitServed(serial, servedWithin)

		cert, key, serial = b.issue(testutil.CertOpts{})
		testutil.RenameOver(t, keyPath, key)
		testutil.RenameOver(t, certPath, cert)
		b.waitServed(serial, servedWithin)
	}
	if n := b.Count(refusedRecord); n != 0 {
		t.Errorf("%d refusals", n)
	}
}
