package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/reload"
)

// setCopyHook installs testHookBeforeCopy for one test.
func setCopyHook(t *testing.T, hook func()) {
	t.Helper()
	testHookBeforeCopy = hook
	t.Cleanup(func() { testHookBeforeCopy = nil })
}

// TestInitCopyRechecksChangedPair: a renewal lands between the start-up
// check and the copy, and another certinit sharing --copy-to has already
// copied it. The pair checked first is older: copying it would put the
// old pair back over the new one (the unchecked copy did). certinit
// checks the renewed pair instead and the copies stay the new ones.
func TestInitCopyRechecksChangedPair(t *testing.T) {
	dir := t.TempDir()
	src, copyDir := filepath.Join(dir, "src"), filepath.Join(dir, "copy")
	pairs := newPairFactory(t)
	cert, key := pairs.next()
	certPath := testutil.WriteFile(t, src, "fullchain.pem", cert)
	keyPath := testutil.WriteFile(t, src, "privkey.pem", key)
	calls := 0
	setCopyHook(t, func() {
		calls++
		if calls > 1 {
			return
		}
		newCert, newKey := pairs.next()
		testutil.RenameOver(t, keyPath, newKey)
		testutil.RenameOver(t, certPath, newCert)
		other, err := reload.Load(reload.Files{Cert: certPath, Key: keyPath}, nil, time.Now())
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := other.CopyTo(context.Background(), copyDir, nil); err != nil {
			t.Error(err)
		}
	})
	code, _, stderr := runCLI(t, "init", "--cert", certPath, "--key", keyPath, "--copy-to", copyDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if calls != 2 {
		t.Errorf("copied %d times, want 2 (refused, then the renewed pair)", calls)
	}
	if !strings.Contains(stderr, `msg="pair changed after it was checked; checking it again"`) {
		t.Errorf("no line about checking the pair again:\n%s", stderr)
	}
	for _, p := range []string{certPath, keyPath} {
		if !sameBytes(p, filepath.Join(copyDir, filepath.Base(p))) {
			t.Errorf("%s: the copy is not the renewed pair", filepath.Base(p))
		}
	}
}

// TestInitCopyGivesUpOnChangingPair: a pair that changes after every
// check is not copied forever: after copyAttempts checks certinit stops
// with one line, and nothing of it reached --copy-to.
func TestInitCopyGivesUpOnChangingPair(t *testing.T) {
	dir := t.TempDir()
	copyDir := filepath.Join(dir, "copy")
	pairs := newPairFactory(t)
	cert, key := pairs.next()
	certPath := testutil.WriteFile(t, dir, "fullchain.pem", cert)
	keyPath := testutil.WriteFile(t, dir, "privkey.pem", key)
	calls := 0
	setCopyHook(t, func() {
		calls++
		newCert, newKey := pairs.next()
		testutil.RenameOver(t, keyPath, newKey)
		testutil.RenameOver(t, certPath, newCert)
	})
	code, _, stderr := runCLI(t, "init", "--cert", certPath, "--key", keyPath, "--copy-to", copyDir)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	if calls != copyAttempts {
		t.Errorf("copied %d times, want %d", calls, copyAttempts)
	}
	want := "certinit: " + certPath + ": the pair changed again after each of 5 checks; nothing copied to " + copyDir
	if !strings.Contains(stderr, want+"\n") {
		t.Errorf("stderr does not end the run with\n%s\n%s", want, stderr)
	}
	if ents, err := os.ReadDir(copyDir); err != nil || len(ents) != 0 {
		t.Errorf("--copy-to holds %v (%v), want nothing", ents, err)
	}
}

// TestChangedSincePrepare: what changed between the preparation and the
// watcher's baseline is reloaded: the checked pair when its bytes differ
// (a renewal), a --trust file whose bytes differ from the installed ones.
func TestChangedSincePrepare(t *testing.T) {
	dir := t.TempDir()
	pairs := newPairFactory(t)
	cert, key := pairs.next()
	f := reload.Files{Cert: testutil.WriteFile(t, dir, "fullchain.pem", cert), Key: testutil.WriteFile(t, dir, "privkey.pem", key)}
	trust := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(pairs.ca.Cert))
	snap, err := reload.Load(f, []string{trust}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rc := &runConfig{reload: reload.Config{Files: f}, snap: snap}
	rc.integ.trust = []string{trust}
	rc.integ.trustInstalled = map[string][]byte{trust: mustRead(t, trust)}
	check := func(what string, want ...string) {
		t.Helper()
		if got := rc.changedSincePrepare(); !slices.Equal(got, want) {
			t.Fatalf("%s: changed %q, want %q", what, got, want)
		}
	}
	check("nothing changed")
	testutil.RenameOver(t, f.Cert, cert) // same bytes
	check("same bytes rewritten")
	newCert, newKey := pairs.next()
	testutil.RenameOver(t, f.Key, newKey)
	check("key renewed", f.Cert, f.Key)
	testutil.RenameOver(t, f.Cert, newCert)
	testutil.RenameOver(t, trust, append(testutil.CertPEM(pairs.ca.Cert), testutil.CertPEM(testutil.NewCA(t, "second CA").Cert)...))
	check("pair renewed and a CA added", f.Cert, f.Key, trust)
}

// TestSignalInterruptsWait: SIGTERM stops a --wait for a pair that never
// comes, as PID 1 (where a signal without a handler is dropped) and not,
// also while a trust install runs beside it; certinit exits 1 at once
// with one line saying it was interrupted, and COMMAND never starts.
func TestSignalInterruptsWait(t *testing.T) {
	for _, mode := range supervisorModes {
		for _, withTrust := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/trust=%v", mode.name, withTrust), func(t *testing.T) {
				dir := t.TempDir()
				marker := filepath.Join(dir, "started")
				args := []string{"run", "--cert", filepath.Join(dir, "never.pem"), "--key", filepath.Join(dir, "never-key.pem"), "--wait", "10m"}
				if withTrust {
					ca := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(testutil.NewCA(t, "wait CA").Cert))
					args = append(args, "--trust", ca, "--trust-store", "dir:/capath", "--root", t.TempDir())
				}
				s := startSupervised(t, mode.asPID1, append(args, "--", "touch", marker)...)
				poll(t, 10*time.Second, "certinit to wait for the pair", func() bool { return strings.Contains(s.logs.String(), `msg="waiting for certificate"`) })
				start := time.Now()
				if code := s.stop(); code != 1 {
					t.Fatalf("exit %d after SIGTERM, want 1; output:\n%s", code, s.logs.String())
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("took %s to stop", took)
				}
				if !strings.Contains(s.logs.String(), "interrupted while waiting") {
					t.Errorf("no interruption reported; output:\n%s", s.logs.String())
				}
				if exists(marker) {
					t.Error("COMMAND ran")
				}
			})
		}
	}
}
