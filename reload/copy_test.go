package reload

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// snapshots makes n different valid pairs, each in its own directory under
// the same file names, and loads them.
func snapshots(t *testing.T, n int) []*Snapshot {
	t.Helper()
	ca := testutil.NewCA(t, "copy test CA")
	var out []*Snapshot
	for range n {
		dir := t.TempDir()
		c, k := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"}})
		f := Files{
			Cert: testutil.WriteFile(t, dir, "server.pem", testutil.CertPEM(c)),
			Key:  testutil.WriteFile(t, dir, "server-key.pem", testutil.KeyPEM(t, k)),
		}
		s, err := Load(f, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestConcurrentCopiesStayPaired: two certinit processes copying different
// pairs into one directory at the same moment (two instances sharing a
// --copy-to volume, one a renewal ahead of the other) must leave a pair
// that belongs together. Unserialised, their renames interleave (cert A,
// cert B, key B, key A) and leave B's certificate with A's key, until one
// of them copies again.
func TestConcurrentCopiesStayPaired(t *testing.T) {
	snaps := snapshots(t, 3)
	dir := filepath.Join(t.TempDir(), "copy")
	if _, err := snaps[0].CopyTo(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	cur := 0
	rounds := testutil.Scale(100, 500)
	for i := range rounds {
		// The two pairs the directory does not hold: both really write.
		a, b := snaps[(cur+1)%3], snaps[(cur+2)%3]
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, s := range []*Snapshot{a, b} {
			wg.Go(func() { _, errs[j] = s.CopyTo(context.Background(), dir, nil) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		p, err := pemfile.LoadPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), time.Now())
		if err != nil {
			t.Fatalf("round %d of %d: after two concurrent copies: %v", i+1, rounds, err)
		}
		cur = -1
		for k, s := range snaps {
			if s.Pair.Chain[0].Equal(p.Chain[0]) {
				cur = k
			}
		}
		if cur < 0 {
			t.Fatalf("round %d: the copy holds a certificate from neither writer", i+1)
		}
	}
}

// TestCopyLeavesIdenticalFiles: copying the pair that is already in place
// writes nothing (a second certinit sharing the directory), so a reader
// never meets a moment of the copy at all.
func TestCopyLeavesIdenticalFiles(t *testing.T) {
	s := snapshots(t, 1)[0]
	dir := filepath.Join(t.TempDir(), "copy")
	first, err := s.CopyTo(context.Background(), dir, nil)
	if err != nil || len(first) != 2 {
		t.Fatalf("first copy wrote %v, %v", first, err)
	}
	inode := func(p string) uint64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	before := map[string]uint64{}
	for _, p := range first {
		before[p] = inode(p)
	}
	again, err := s.CopyTo(context.Background(), dir, nil)
	if err != nil || len(again) != 0 {
		t.Fatalf("second copy of the same pair wrote %v, %v; want nothing", again, err)
	}
	for p, ino := range before {
		if inode(p) != ino {
			t.Errorf("%s was replaced", p)
		}
	}
	// A different mode is not "in place": the copy restores 0600.
	key := filepath.Join(dir, "server-key.pem")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if w, err := s.CopyTo(context.Background(), dir, nil); err != nil || len(w) != 1 || w[0] != key {
		t.Fatalf("copy after chmod wrote %v, %v; want the key alone", w, err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v after the copy, want 0600", fi.Mode().Perm())
	}
}

// TestCopyToIfCurrentRefusesStale: a snapshot whose source changed after
// it was checked is not copied, so it can never replace the newer pair
// that another process may already have copied.
func TestCopyToIfCurrentRefusesStale(t *testing.T) {
	f := newFixture(t)
	old, err := Load(Files{Cert: f.cert, Key: f.key}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.writePair(testutil.CertOpts{}) // the next renewal
	dir := filepath.Join(t.TempDir(), "copy")
	w, err := old.CopyToIfCurrent(context.Background(), dir, nil)
	if !errors.Is(err, ErrSuperseded) || len(w) != 0 {
		t.Fatalf("CopyToIfCurrent of a stale snapshot: wrote %v, err %v; want ErrSuperseded and nothing written", w, err)
	}
	if !strings.Contains(err.Error(), f.cert) && !strings.Contains(err.Error(), f.key) {
		t.Errorf("error %q does not name the changed file", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written: %v", ents)
	}
	cur, err := Load(Files{Cert: f.cert, Key: f.key}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if w, err := cur.CopyToIfCurrent(context.Background(), dir, nil); err != nil || len(w) != 2 {
		t.Fatalf("CopyToIfCurrent of the current pair: %v, %v", w, err)
	}
}
