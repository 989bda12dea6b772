package runner

import (
	"fmt"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/testutil"
)

// TestRunACMERenewals: run obtains a certificate for the broker's name and
// its IP address from Pebble, under a profile whose certificates live 20
// seconds, and renews it several times in-process when the CA's renewal
// window (ARI) says. A real Mosquitto serves each new certificate after a
// reload, and a subscriber connected before the first renewal stays
// connected and receives a message sent after each one.
func TestRunACMERenewals(t *testing.T) {
	const renewals = 3
	p := pebbletest.Start(t, pebbletest.Options{Profiles: map[string]time.Duration{
		"classic":    90 * 24 * time.Hour,
		"shortlived": 20 * time.Second,
	}})
	b := newBroker(t)
	out := filepath.Join(b.dir, "acme")
	b.writeConf(filepath.Join(out, "fullchain.pem"), filepath.Join(out, "privkey.pem"), true)
	b.start("--acme-domain", "broker.certinit.test", "--acme-domain", "127.0.0.1", "--acme-out", out,
		"--acme-directory", p.DirectoryURL, "--acme-ca", p.CAFile, "--acme-profile", "shortlived",
		"--acme-http-addr", p.HTTPAddr(), "--acme-tls-addr", "")
	b.caFile = testutil.WriteFile(t, t.TempDir(), "pebble-root.pem", p.RootPEM(t))
	// newSerial waits until the broker serves a certificate (verified for
	// the IP address against Pebble's root) not among seen, and adds it.
	seen := map[string]bool{}
	newSerial := func() *big.Int {
		var s *big.Int
		testutil.Eventually(t, 10*time.Second, func() (bool, string) {
			got, err := mosquittotest.ServedSerial(t, b.port, b.caFile, "127.0.0.1")
			if err != nil {
				return false, err.Error()
			}
			s = got
			return !seen[got.Text(16)], fmt.Sprintf("still serving serial %x", got)
		})
		seen[s.Text(16)] = true
		return s
	}
	newSerial()

	sub := b.subscribe()
	b.publish("before")
	waitGot(t, sub, "before")
	for i := 1; i <= renewals; i++ {
		// Each certificate is renewed within its 20-second lifetime.
		seenRenewals := 0
		b.Logs.WaitFor(func(r testutil.Record) bool {
			if testutil.Message("renewed")(r) {
				seenRenewals++
			}
			return seenRenewals >= i
		}, 30*time.Second)
		now := newSerial()
		msg := fmt.Sprintf("after renewal %d", i)
		b.publish(msg)
		waitGot(t, sub, msg)
		t.Logf("renewal %d: serving serial %x", i, now)
	}
	if n := sub.Connects(); n != 1 {
		t.Errorf("subscriber connected %d times; a reload dropped it", n)
	}
	if pids := b.ChildPIDs(); len(pids) != 1 {
		t.Errorf("broker started %d times; a renewal must reload, not restart", len(pids))
	}
	if n := b.Count(testutil.HasKey("renew_at")); n < renewals {
		t.Errorf("%d next-renewal records, want one per certificate", n)
	}
}
