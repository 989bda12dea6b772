package reload

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

var (
	refused    = testutil.Message("reload refused")
	reloading  = testutil.Message("reloading")
	notSettled = testutil.Message("pair not settled")
)

// settlingReloader is a Reloader for f's pair with the given settle time,
// starting from the pair f holds now, with Run running until the test ends.
func settlingReloader(t *testing.T, f *fixture, settle time.Duration) (*Reloader, *recorder, *testutil.Logs) {
	t.Helper()
	initial, err := Load(Files{Cert: f.cert, Key: f.key}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	logs, log := testutil.NewLogs(t)
	rec := &recorder{}
	r := New(Config{Files: Files{Cert: f.cert, Key: f.key}, Settle: settle, Initial: initial, Log: log,
		Report: rec.outcomes.Add}, rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r, rec, logs
}

// changed is r.Changed for paths, which must not fail: a pair that fails
// its checks waits.
func changed(t *testing.T, r *Reloader, paths ...string) {
	t.Helper()
	if err := r.Changed(context.Background(), paths); err != nil {
		t.Fatalf("Changed(%v): %v", paths, err)
	}
}

// TestSettleWaitsForTheKey: a new certificate beside the old key is
// neither signalled nor refused; the key that completes it is signalled
// once, with both changes.
func TestSettleWaitsForTheKey(t *testing.T) {
	f := newFixture(t)
	r, rec, logs := settlingReloader(t, f, time.Minute)
	cert, key := f.issue()
	testutil.RenameOver(t, f.cert, cert)
	changed(t, r, f.cert)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("a certificate without its key did %q", got)
	}
	if len(logs.Matching(notSettled)) != 1 || len(logs.Matching(refused)) != 0 {
		t.Fatalf("want one record of a pair not settled and no refusal; got %d and %d",
			len(logs.Matching(notSettled)), len(logs.Matching(refused)))
	}
	testutil.RenameOver(t, f.key, key)
	changed(t, r, f.key)
	if got := rec.take(); !slices.Equal(got, []string{"signal hangup"}) {
		t.Fatalf("the completed pair did %q, want one signal", got)
	}
	rl := logs.Matching(reloading)
	if len(rl) != 1 || rl[0].Attrs["changed"] != "["+f.cert+" "+f.key+"]" {
		t.Fatalf("reloading records %v, want one naming both files", rl)
	}
}

// TestSettleRefusesOnce: a pair that keeps failing is refused once, when
// Settle has passed since its first failing check, however many failing
// changes came in between; a failing change after the refusal waits again,
// and the good pair that follows is signalled.
func TestSettleRefusesOnce(t *testing.T) {
	const settle = time.Second
	f := newFixture(t)
	r, rec, logs := settlingReloader(t, f, settle)
	start := time.Now()
	f.writePairKeyOnly()
	changed(t, r, f.key)
	f.writePairKeyOnly()
	changed(t, r, f.key)
	rf := logs.WaitFor(refused, 10*time.Second)
	if took := time.Since(start); took < settle {
		t.Fatalf("refused %s after the first failing change, before the settle time %s", took, settle)
	}
	r.mu.Lock() // held while the refusal is logged and reported
	out := rec.outcomes.Take()
	r.mu.Unlock()
	if len(out) != 1 || !errors.Is(out[0].Refused, pemfile.ErrKeyMismatch) || rf.Attrs["kind"] != "key_mismatch" {
		t.Fatalf("refused for %q (kind %q), outcomes %+v; want one key mismatch", rf.Attrs["reason"], rf.Attrs["kind"], out)
	}
	f.writePairKeyOnly()
	changed(t, r, f.key)
	if n := len(logs.Matching(refused)); n != 1 {
		t.Fatalf("a failing change after the refusal was refused at once (%d refusals)", n)
	}
	f.writePair(testutil.CertOpts{})
	changed(t, r, f.cert, f.key)
	if got := rec.take(); !slices.Equal(got, []string{"signal hangup"}) {
		t.Fatalf("did %q, want one signal for the good pair only", got)
	}
	if n := len(logs.Matching(refused)); n != 1 {
		t.Fatalf("%d refusals, want 1", n)
	}
}

// TestSettleChecksAgainWhenDue: a certificate that is not valid yet when it
// arrives is checked again once Settle has passed, and reloaded then
// without a further change.
func TestSettleChecksAgainWhenDue(t *testing.T) {
	f := newFixture(t)
	r, rec, logs := settlingReloader(t, f, 2*time.Second)
	// Valid half a second to one and a half seconds from now (x509 keeps
	// whole seconds): before the settle time is up.
	f.writePair(testutil.CertOpts{NotBefore: time.Now().Add(1500 * time.Millisecond)})
	changed(t, r, f.cert, f.key)
	if rec.take() != nil {
		t.Fatal("a certificate not valid yet was signalled")
	}
	logs.WaitFor(reloading, 10*time.Second)
	// The record is logged just before the signal is sent.
	var got []string
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		got = append(got, rec.take()...)
		return len(got) > 0, "no signal after the reloading record"
	})
	if !slices.Equal(got, []string{"signal hangup"}) {
		t.Fatalf("did %q, want one signal", got)
	}
	if n := len(logs.Matching(refused)); n != 0 {
		t.Fatalf("%d refusals", n)
	}
}

// TestSettleBackToServed: a key that changes and changes back leaves the
// pair the server has: nothing is signalled, nothing refused.
func TestSettleBackToServed(t *testing.T) {
	f := newFixture(t)
	r, rec, logs := settlingReloader(t, f, time.Minute)
	served := testutil.ReadFile(t, f.key)
	f.writePairKeyOnly()
	changed(t, r, f.key)
	testutil.RenameOver(t, f.key, served)
	changed(t, r, f.key)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("the pair already served did %q", got)
	}
	if n := len(logs.Matching(refused)); n != 0 {
		t.Fatalf("%d refusals", n)
	}
}

// issue makes a fresh pair for the fixture's names without writing it.
func (f *fixture) issue() (certPEM, keyPEM []byte) {
	dir := f.t.TempDir()
	g := &fixture{t: f.t, dir: dir, ca: f.ca, cert: dir + "/cert.pem", key: dir + "/key.pem"}
	return g.writePair(testutil.CertOpts{})
}
