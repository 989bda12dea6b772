package reload

import (
	"context"
	"crypto"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// TestKeyTypeChangeRestarts: a good renewal whose key type differs from
// the one the server loaded last restarts it, with one line saying why; a
// renewal of the same type (whatever the curve or size) is signalled; a
// refused renewal does not count as loaded.
func TestKeyTypeChangeRestarts(t *testing.T) {
	f := newFixture(t) // starts with ECDSA P-256
	rec := &recorder{}
	logs, log := testutil.NewLogs(t)
	r := New(Config{Files: Files{Cert: f.cert, Key: f.key}, Log: log}, rec)
	rsa1, rsa2 := testutil.NewKey(t, "rsa"), testutil.NewKey(t, "rsa")
	restart := func(from, to string) func(testutil.Record) bool {
		return testutil.All(testutil.HasAttr("old_key_type", from), testutil.HasAttr("new_key_type", to), testutil.HasKey("reason"))
	}
	reload := testutil.HasAttr("signal", "HUP")
	refused := testutil.All(testutil.AtLevel(slog.LevelError), testutil.HasKey("reason"))
	steps := []struct {
		name    string
		write   func()
		want    []string // nil: refused
		wantLog func(testutil.Record) bool
	}{
		{"ECDSA P-256 to RSA 2048", func() { f.writePairWith(rsa1, rsa1) }, []string{"restart"}, restart("ECDSA P-256", "RSA 2048")},
		{"RSA to RSA", func() { f.writePairWith(rsa2, rsa2) }, []string{"signal hangup"}, reload},
		{"RSA to ECDSA P-384", func() { k := testutil.NewKey(t, "p384"); f.writePairWith(k, k) }, []string{"restart"}, restart("RSA 2048", "ECDSA P-384")},
		{"curve alone (P-384 to P-256)", func() { k := testutil.NewKey(t, "p256"); f.writePairWith(k, k) }, []string{"signal hangup"}, reload},
		{"ECDSA to Ed25519", func() { k := testutil.NewKey(t, "ed25519"); f.writePairWith(k, k) }, []string{"restart"}, restart("ECDSA P-256", "Ed25519")},
		// An RSA certificate with an Ed25519 key: refused, so the server
		// still has Ed25519 and the next Ed25519 pair is a plain reload.
		{"refused RSA", func() { f.writePairWith(rsa1, testutil.NewKey(t, "ed25519")) }, nil, refused},
		{"Ed25519 after the refusal", func() { k := testutil.NewKey(t, "ed25519"); f.writePairWith(k, k) }, []string{"signal hangup"}, reload},
	}
	for _, st := range steps {
		before := len(logs.Records())
		st.write()
		err := r.Changed(context.Background(), []string{f.cert, f.key})
		if (err == nil) != (st.want != nil) {
			t.Fatalf("%s: Changed = %v", st.name, err)
		}
		if got := rec.take(); !slices.Equal(got, st.want) {
			t.Fatalf("%s: did %q, want %q", st.name, got, st.want)
		}
		if recs := logs.Records()[before:]; len(recs) != 1 || !st.wantLog(recs[0]) {
			t.Fatalf("%s: logged %v, want one record saying what was done and why", st.name, recs)
		}
	}
}

// TestKeyTypeStartsFromCopy: the type the server starts with is read from
// the copy it loads, not from the source, which may already hold a newer
// pair when the reloader is created.
func TestKeyTypeStartsFromCopy(t *testing.T) {
	f := newFixture(t)
	k := testutil.NewKey(t, "rsa")
	f.writePairWith(k, k)
	snap, err := Load(Files{Cert: f.cert, Key: f.key}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	copyDir := filepath.Join(f.dir, "copy")
	if _, err := snap.CopyTo(context.Background(), copyDir, nil); err != nil {
		t.Fatal(err)
	}
	f.writePair(testutil.CertOpts{}) // ECDSA in the source, RSA in the copy
	rec := &recorder{}
	r := New(Config{Files: Files{Cert: f.cert, Key: f.key}, CopyTo: copyDir}, rec)
	if err := r.Changed(context.Background(), []string{f.cert, f.key}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"restart"}) {
		t.Fatalf("did %q, want a restart (the server loaded the RSA copy)", got)
	}
}

// TestKeyTypeStartsFromInitial: with Config.Initial the starting type is
// the checked pair's, whatever the disk holds when the reloader is
// created. Here a renewal to RSA lands between the check of the ECDSA pair
// (which the server loads) and New, in the source and in the copy (written
// by another certinit sharing it): read from disk, the type would be RSA
// and the renewal's reload a HUP, leaving the old ECDSA certificate served
// beside the new one. From Initial it is ECDSA, and the reload restarts.
func TestKeyTypeStartsFromInitial(t *testing.T) {
	for _, withCopy := range []bool{false, true} {
		t.Run(map[bool]string{false: "source", true: "copy"}[withCopy], func(t *testing.T) {
			f := newFixture(t) // ECDSA P-256
			files := Files{Cert: f.cert, Key: f.key}
			initial, err := Load(files, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			k := testutil.NewKey(t, "rsa")
			f.writePairWith(k, k)
			cfg := Config{Files: files, Initial: initial}
			if withCopy {
				cfg.CopyTo = filepath.Join(f.dir, "copy")
				renewed, err := Load(files, nil, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := renewed.CopyTo(context.Background(), cfg.CopyTo, nil); err != nil {
					t.Fatal(err)
				}
			}
			rec := &recorder{}
			r := New(cfg, rec)
			if err := r.Changed(context.Background(), []string{f.cert, f.key}); err != nil {
				t.Fatal(err)
			}
			if got := rec.take(); !slices.Equal(got, []string{"restart"}) {
				t.Fatalf("did %q, want a restart (the server loaded the ECDSA pair)", got)
			}
			// Without Initial the same disk gives the wrong answer: the
			// case this field exists for.
			cfg.Initial = nil
			if got := startingKeyType(cfg).desc; got != "RSA 2048" {
				t.Fatalf("type read from disk = %q, want RSA 2048 (the test no longer shows the race)", got)
			}
		})
	}
}

// TestSnapshotCurrent: Current is nil while the files hold the checked
// bytes (rewriting the same bytes included) and names the file otherwise.
func TestSnapshotCurrent(t *testing.T) {
	f := newFixture(t)
	certPEM, keyPEM := f.writePair(testutil.CertOpts{})
	snap, err := Load(Files{Cert: f.cert, Key: f.key}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Current(); err != nil {
		t.Fatalf("unchanged: %v", err)
	}
	testutil.RenameOver(t, f.cert, certPEM)
	if err := snap.Current(); err != nil {
		t.Fatalf("same bytes rewritten: %v", err)
	}
	testutil.RenameOver(t, f.key, append(keyPEM, '\n'))
	if err := snap.Current(); !errors.Is(err, ErrSuperseded) || !strings.HasPrefix(err.Error(), f.key+": ") {
		t.Fatalf("key changed: %v, want %s: ErrSuperseded", err, f.key)
	}
	if err := os.Remove(f.key); err != nil {
		t.Fatal(err)
	}
	if err := snap.Current(); !errors.Is(err, ErrSuperseded) || !strings.HasPrefix(err.Error(), f.key+": ") {
		t.Fatalf("key removed: %v, want %s: ErrSuperseded", err, f.key)
	}
	testutil.UnreadableFiles[0].Make(t, f.key) // a FIFO
	if err := snap.Current(); err == nil || errors.Is(err, ErrSuperseded) {
		t.Fatalf("key replaced by a FIFO: %v, want the read error", err)
	}
}

// writePairWith writes a certificate for certKey's public key, signed by
// the fixture's CA, and key as the private key (certKey itself for a
// matching pair).
func (f *fixture) writePairWith(certKey, key crypto.Signer) {
	f.t.Helper()
	o := testutil.Localhost()
	o.Key = certKey
	c, _ := f.ca.Issue(f.t, o)
	testutil.WriteFile(f.t, filepath.Dir(f.cert), filepath.Base(f.cert), testutil.CertPEM(c))
	testutil.WriteFile(f.t, filepath.Dir(f.key), filepath.Base(f.key), testutil.KeyPEM(f.t, key))
}
