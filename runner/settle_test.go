package runner

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// certinit's records of the pair check (reload.Reloader).
var (
	reloadRecord     = testutil.Message("reloading")
	refusedRecord    = testutil.Message("reload refused")
	notSettledRecord = testutil.Message("pair not settled")
)

// TestRunOneReloadPerRenewal: a certbot renewal (archive files, then the
// live/ links swapped one by one, so the live pair is mismatched or missing
// a file in between) and a Kubernetes ..data swap are each one reload of
// the broker and never a refusal, renewal after renewal.
func TestRunOneReloadPerRenewal(t *testing.T) {
	for _, l := range layouts[:2] {
		t.Run(l.name, func(t *testing.T) {
			b := newBroker(t)
			startWith(t, b, l)
			const renewals = 3
			for n := 1; n <= renewals; n++ {
				cert, key, serial := b.issue(testutil.CertOpts{})
				l.renew(t, b.dir, n, cert, key)
				b.waitServed(serial, servedWithin)
				b.WaitRecords(reloadRecord, n)
			}
			if n := b.Count(reloadRecord); n != renewals {
				t.Errorf("%d reloads for %d renewals", n, renewals)
			}
			if n := strings.Count(b.Out.String(), "Reloading config"); n != renewals {
				t.Errorf("the broker reloaded %d times for %d renewals", n, renewals)
			}
			if n := b.Count(refusedRecord); n != 0 {
				t.Errorf("%d refusals of a normal renewal", n)
			}
		})
	}
}

// TestRunKeyAfterCert: a certificate whose key is written two seconds
// later is not reloaded early (the broker keeps the old pair and is not
// signalled) and not refused; once the key is there, the broker serves the
// new pair after one reload.
func TestRunKeyAfterCert(t *testing.T) {
	l := layouts[2] // plain files, renamed over one at a time
	b := newBroker(t)
	old := startWith(t, b, l)
	certPath, keyPath := filepath.Join(b.dir, "server.pem"), filepath.Join(b.dir, "server-key.pem")

	cert, key, serial := b.issue(testutil.CertOpts{})
	testutil.RenameOver(t, certPath, cert)
	b.WaitRecords(notSettledRecord, 1)
	time.Sleep(2 * time.Second) // the scenario: the key comes two seconds later
	if got, err := b.served(); err != nil || got.Cmp(old) != 0 {
		t.Fatalf("with the key still missing: serial %v, err %v; want the old %x", got, err, old)
	}
	if n, m := b.Count(reloadRecord), b.Count(refusedRecord); n != 0 || m != 0 {
		t.Fatalf("before the key came: %d reloads, %d refusals; want none", n, m)
	}

	testutil.RenameOver(t, keyPath, key)
	b.waitServed(serial, servedWithin)
	if n, m := b.Count(reloadRecord), b.Count(refusedRecord); n != 1 || m != 0 {
		t.Fatalf("%d reloads, %d refusals; want one reload and no refusal", n, m)
	}
	if n := strings.Count(b.Out.String(), "Reloading config"); n != 1 {
		t.Fatalf("the broker reloaded %d times, want once", n)
	}
}

// TestRunMismatchRefusedOnce: a pair that stays mismatched through several
// changes is refused once, --settle after it went bad, and the broker keeps
// serving the old pair; a mismatched change after the refusal waits again
// (it is not refused at once), and the good pair that follows is served.
func TestRunMismatchRefusedOnce(t *testing.T) {
	const settle = 2 * time.Second
	l := layouts[2]
	b := newBroker(t)
	old := startWith(t, b, l, "--settle", settle.String())
	keyPath := filepath.Join(b.dir, "server-key.pem")
	mismatch := func(n int) {
		_, key, _ := b.issue(testutil.CertOpts{})
		testutil.RenameOver(t, keyPath, key)
		b.WaitRecords(notSettledRecord, n)
	}

	start := time.Now()
	mismatch(1)
	mismatch(2)
	r := b.WaitRecords(refusedRecord, 1)
	if took := time.Since(start); took < settle {
		t.Fatalf("refused %s after the pair went bad, before --settle %s", took, settle)
	}
	if r.Attrs["kind"] != "key_mismatch" {
		t.Fatalf("refused for %q (kind %q), want a key mismatch", r.Attrs["reason"], r.Attrs["kind"])
	}
	if got, err := b.served(); err != nil || got.Cmp(old) != 0 {
		t.Fatalf("after the refusal: serial %v, err %v; want the old %x", got, err, old)
	}

	mismatch(3)
	if n := b.Count(refusedRecord); n != 1 {
		t.Fatalf("the mismatched change after the refusal was refused at once (%d refusals)", n)
	}
	cert, key, serial := b.issue(testutil.CertOpts{})
	l.renew(t, b.dir, 1, cert, key)
	b.waitServed(serial, servedWithin)
	if n, m := b.Count(refusedRecord), b.Count(reloadRecord); n != 1 || m != 1 {
		t.Fatalf("%d refusals and %d reloads, want one of each", n, m)
	}
}
