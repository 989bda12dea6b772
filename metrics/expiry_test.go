package metrics

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"log/slog"
	"maps"
	"math/big"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// expiryRecords are the warnings and errors about certificates so far.
func expiryRecords(logs *testutil.Logs) []testutil.Record {
	return logs.Matching(testutil.All(testutil.HasKey("not_after"), testutil.HasKey("reason")))
}

// TestExpiryWarnings: a certificate is warned about when it enters the
// last tenth of its validity or falls to --ready-min-validity, an error
// once it expired, and at most once a day; a fresh one never.
func TestExpiryWarnings(t *testing.T) {
	p := newPKI(t)
	start := time.Now().Truncate(time.Second)
	// 100 days of validity: the last tenth starts at day 90.
	_, cert, _ := p.pair(t, "tls", start, start.Add(100*24*time.Hour))
	day := 24 * time.Hour
	for _, tc := range []struct {
		name        string
		minValidity time.Duration
		at          time.Duration // after start
		reason      string        // "": no record
		level       slog.Level
	}{
		{"fresh", 0, 10 * day, "", 0},
		{"just before the last tenth", 0, 90*day - time.Minute, "", 0},
		{"in the last tenth", 0, 90*day + time.Minute, expiryLastTenth, slog.LevelWarn},
		{"under --ready-min-validity", 20 * day, 85 * day, expiryMinValidity, slog.LevelWarn},
		{"under both", 20 * day, 95 * day, expiryMinValidity, slog.LevelWarn},
		{"expired", 0, 101 * day, expiryExpired, slog.LevelError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, log := testutil.NewLogs(t)
			e := NewExpiry([]Cert{{Role: RoleCert, Path: cert}}, tc.minValidity, log)
			e.now = at(start.Add(tc.at))
			e.check(context.Background())
			recs := expiryRecords(logs)
			if tc.reason == "" {
				if len(recs) > 0 {
					t.Fatalf("warned about a certificate with enough time left: %v", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1: %v", len(recs), recs)
			}
			r := recs[0]
			if r.Level != tc.level || r.Attrs["reason"] != tc.reason || r.Attrs["path"] != cert || r.Attrs["role"] != string(RoleCert) {
				t.Errorf("record %v %v, want level %v, reason %s, path %s, role cert", r.Level, r.Attrs, tc.level, tc.reason, cert)
			}
		})
	}
}

// TestExpiryOncePerDay: looking every hour, a certificate near its end is
// warned about once, and again a day later; each certificate on its own.
func TestExpiryOncePerDay(t *testing.T) {
	p := newPKI(t)
	start := time.Now().Truncate(time.Second)
	_, a, _ := p.pair(t, "a", start, start.Add(10*24*time.Hour))
	_, b, _ := p.pair(t, "b", start, start.Add(20*24*time.Hour))
	logs, log := testutil.NewLogs(t)
	e := NewExpiry([]Cert{{Role: RoleCert, Path: a}, {Role: RoleCopy, Path: b}}, 0, log)
	count := func(path string) int {
		return len(logs.Matching(testutil.All(testutil.HasKey("reason"), testutil.HasAttr("path", path))))
	}
	// a enters its last tenth at day 9, b at day 18; look every hour
	// from day 8 to day 19.
	for h := 8 * 24; h <= 19*24; h++ {
		e.now = at(start.Add(time.Duration(h) * time.Hour))
		e.check(context.Background())
	}
	// a: warned at day 9, then, expired, at days 10 to 19.
	warnA := len(logs.Matching(testutil.All(testutil.HasAttr("path", a), testutil.HasAttr("reason", expiryLastTenth))))
	if warnA != 1 {
		t.Errorf("a: %d last-tenth warnings over its last day, want 1", warnA)
	}
	expiredA := len(logs.Matching(testutil.All(testutil.HasAttr("path", a), testutil.HasAttr("reason", expiryExpired))))
	if expiredA != 10 {
		t.Errorf("a: %d expired errors from day 10 to day 19, want 10 (one a day)", expiredA)
	}
	if got := count(b); got != 2 {
		t.Errorf("b: %d warnings from day 18 to day 19, want 2 (one a day)", got)
	}
}

// TestExpiryLoop: the loop looks at once when it starts and again at a
// Recheck (a reload, which may bring a certificate that is short already),
// and returns when its context ends.
func TestExpiryLoop(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	_, cert, _ := p.pair(t, "tls", now.Add(-24*time.Hour), now.Add(time.Hour))
	_, fresh, _ := p.pair(t, "fresh", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	logs, log := testutil.NewLogs(t)
	e := NewExpiry([]Cert{{Role: RoleCert, Path: cert}, {Role: RoleCopy, Path: fresh}}, 0, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		e.Loop(ctx)
		close(done)
	}()
	logs.WaitFor(testutil.All(testutil.HasAttr("path", cert), testutil.HasAttr("reason", expiryLastTenth)), 10*time.Second)
	_, short, _ := p.pair(t, "short", now.Add(-24*time.Hour), now.Add(time.Hour))
	testutil.RenameOver(t, fresh, testutil.ReadFile(t, short))
	e.Recheck()
	logs.WaitFor(testutil.All(testutil.HasAttr("path", fresh), testutil.HasAttr("reason", expiryLastTenth)), 10*time.Second)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Loop did not return after its context ended")
	}
}

// TestExpiryTrustCAs: each CA of a --trust file is warned about on its
// own, named by subject hash and fingerprint, not only the one that
// expires first; a CA with time left is not.
func TestExpiryTrustCAs(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	day := 24 * time.Hour
	ca := func(cn string, life time.Duration) *x509.Certificate {
		key := testutil.NewKey(t, "p256")
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(life)), Subject: pkix.Name{CommonName: cn},
			NotBefore: start, NotAfter: start.Add(life), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		return testutil.CreateCertificate(t, tmpl, tmpl, key.Public(), key)
	}
	// At day 95: the first is in its last tenth, the second expired, the
	// third has years left.
	short, gone, long := ca("short", 100*day), ca("gone", 90*day), ca("long", 3650*day)
	bundle := testutil.WriteFile(t, t.TempDir(), "bundle.pem", testutil.CertPEM(long, short, gone, short))
	logs, log := testutil.NewLogs(t)
	e := NewExpiry([]Cert{{Role: RoleTrust, Path: bundle}}, 0, log)
	e.now = at(start.Add(95 * day))
	e.check(context.Background())
	e.check(context.Background()) // the same day: nothing again
	got := map[string]string{}    // sha256 -> reason
	for _, r := range expiryRecords(logs) {
		if r.Attrs["path"] != bundle || r.Attrs["role"] != string(RoleTrust) || len(r.Attrs["subject_hash"]) != 8 {
			t.Errorf("record %v: want path, role trust and an 8-digit subject hash", r.Attrs)
		}
		if _, dup := got[r.Attrs["sha256"]]; dup {
			t.Errorf("CA %s warned about twice", r.Attrs["sha256"])
		}
		got[r.Attrs["sha256"]] = r.Attrs["reason"]
	}
	want := map[string]string{fingerprint(short): expiryLastTenth, fingerprint(gone): expiryExpired}
	if !maps.Equal(got, want) {
		t.Errorf("warnings by CA %v, want %v", got, want)
	}
}

// fingerprint is c's SHA-256 fingerprint as the sha256 attribute and label
// write it.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
