package acme

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/testutil"
)

// shortRetries makes the loop retry within a second, and the ACME client
// retry a failed request after milliseconds (test seams).
func shortRetries(t *testing.T) {
	f, m, u := retryFirst, retryMax, requestRetryUnit
	retryFirst, retryMax, requestRetryUnit = 100*time.Millisecond, 500*time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() { retryFirst, retryMax, requestRetryUnit = f, m, u })
}

// startLoop runs RenewLoop until the test ends and returns the channel of
// renewals it reports.
func startLoop(t *testing.T, iss Issuer) <-chan *Result {
	ctx, cancel := context.WithCancel(context.Background())
	renewed := make(chan *Result, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		iss.RenewLoop(ctx, func(r *Result) { renewed <- r })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("RenewLoop did not return after its context ended")
		}
	})
	return renewed
}

func waitRenewal(t *testing.T, ch <-chan *Result, d time.Duration) *Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("no renewal reported within %s", d)
		return nil
	}
}

// TestRenewLoopPebble renews short-lived certificates from a real CA: while
// the CA is down the loop retries and the old files stay in place; once it
// is back, new files arrive complete and the callback reports them.
func TestRenewLoopPebble(t *testing.T) {
	shortRetries(t)
	p := pebbletest.Start(t, pebbletest.Options{Validity: 9 * time.Second})
	cfg := acmeConfig(t, p, "renew.certinit.test")
	iss, logs := mustNew(t, cfg)
	first := obtain(t, iss)
	c := first.Certs[0]
	// Pebble's renewal window for a certificate this short is its whole
	// lifetime: the time is drawn in it.
	if c.RenewAt.Before(c.NotBefore) || c.RenewAt.After(c.NotAfter) || !c.random {
		t.Errorf("RenewAt %v (%s), want a time drawn in Pebble's window [%v, %v]", c.RenewAt, c.RenewWhy, c.NotBefore, c.NotAfter)
	}
	before := snapshot(t, cfg.Out)

	p.Stop()
	renewed := startLoop(t, iss)
	failure := testutil.All(testutil.AtLevel(slog.LevelError), testutil.HasKey("attempt"))
	logs.WaitFor(testutil.All(failure, testutil.HasAttr("attempt", "2")), 30*time.Second)
	for _, r := range logs.Matching(failure) {
		if !strings.Contains(r.Attrs["err"], ErrCAUnreachable.Error()) {
			t.Errorf("failure does not say the CA is unreachable: %s", r.Attrs["err"])
		}
	}
	if !maps.Equal(before, snapshot(t, cfg.Out)) {
		t.Fatal("files changed while renewal failed")
	}
	select {
	case r := <-renewed:
		t.Fatalf("renewal reported while the CA was down: %+v", r)
	default:
	}

	p.Restart(t) // a new CA with a new root, behind the same URL
	r := waitRenewal(t, renewed, 60*time.Second)
	if !r.Changed || !r.Certs[0].Issued || r.Certs[0].Serial == c.Serial || !r.Certs[0].NotAfter.After(c.NotAfter) {
		t.Fatalf("renewal result %+v, first %+v", r, c)
	}
	checkOutput(t, cfg.Out, p.Roots(t), writeRoot(t, p.RootPEM(t)), "renew.certinit.test", KeyECDSA, 0o600)
}

// TestRenewLoopLocal runs the loop on the local issuer with two-second
// certificates: each renewal is reported once, with new complete files,
// and Config.Report hears it before, with the next renewal's time.
func TestRenewLoopLocal(t *testing.T) {
	var reported testutil.Collected[Attempt]
	cfg := Config{Domains: []string{"localhost"}, Out: t.TempDir() + "/out", Issuer: IssuerLocal, LocalValidity: 2 * time.Second,
		Report: reported.Add}
	iss, _ := mustNew(t, cfg)
	first := obtain(t, iss)
	renewed := startLoop(t, iss)
	serials := map[string]bool{first.Certs[0].Serial: true}
	for range 2 {
		r := waitRenewal(t, renewed, 20*time.Second)
		s := r.Certs[0].Serial
		if serials[s] || !r.Changed || !r.Certs[0].Issued {
			t.Fatalf("renewal %+v repeats a serial or changed nothing", r)
		}
		serials[s] = true
		if !slices.ContainsFunc(reported.All(), func(a Attempt) bool { return a.Renewed && a.Err == nil && a.Next.Equal(r.NextRenewal()) }) {
			t.Errorf("renewal %s was not reported with its next renewal at %s: %+v", s, r.NextRenewal(), reported.All())
		}
	}
	ca := iss.(*LocalCA)
	checkOutput(t, cfg.Out, caPool(t, ca), ca.CAFile(), "localhost", KeyECDSA, 0o600)
}

func TestBackoff(t *testing.T) {
	for n, base := range map[int]time.Duration{1: retryFirst, 2: 2 * retryFirst, 3: 4 * retryFirst, 30: retryMax} {
		for range 50 {
			d := backoff(n)
			if d < base*3/4 || d > base*5/4 {
				t.Fatalf("backoff(%d) = %s, want within 25%% of %s", n, d, base)
			}
		}
	}
}

// TestRenewLoopClockAhead: when this clock runs so far ahead of the CA's
// that every new certificate is due at once, the loop backs off and warns
// instead of ordering in a tight loop.
func TestRenewLoopClockAhead(t *testing.T) {
	shortRetries(t)
	p := pebbletest.Start(t, pebbletest.Options{})
	setClock(t, time.Now().Add(80*24*time.Hour)) // Pebble's certificates last 90 days
	iss, logs := mustNew(t, acmeConfig(t, p, "clock.certinit.test"))
	startLoop(t, iss)
	// Two warnings that the new certificate is due at once: a backoff
	// between them.
	dueAtOnce := testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.HasKey("renew_at"))
	warnings := 0
	logs.WaitFor(func(r testutil.Record) bool {
		if dueAtOnce(r) {
			warnings++
		}
		return warnings == 2
	}, 30*time.Second)
	// Each issued certificate is one record with its not_after.
	if n := len(logs.Matching(testutil.HasKey("not_after"))); n > 3 {
		t.Errorf("%d certificates ordered; want the loop to back off", n)
	}
}
