package runner

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/reload"
)

// Tests of the preparation, through Init in the test process.

// initLogged runs Init with a recording logger.
func initLogged(t *testing.T, cfg Config) (*testutil.Logs, error) {
	t.Helper()
	logs, log := testutil.NewLogs(t)
	return logs, Init(context.Background(), cfg, log)
}

// requireRecord fails the test unless logs hold a record match matches.
func requireRecord(t *testing.T, logs *testutil.Logs, match func(testutil.Record) bool) {
	t.Helper()
	if len(logs.Matching(match)) == 0 {
		t.Fatal("no such log record")
	}
}

// TestInitCopies: init validates the pair, copies it keeping the file
// names (key 0600, certificate 0644) and logs what it copied.
func TestInitCopies(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WritePair(t, dir, "fullchain.pem", "privkey.pem")
	copyDir := filepath.Join(dir, "copy")
	logs, err := initLogged(t, Config{Cert: cert, Key: key, CopyTo: copyDir})
	if err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"fullchain.pem": 0o644, "privkey.pem": 0o600} {
		fi, err := os.Stat(filepath.Join(copyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	if len(logs.Matching(testutil.Message("copied"))) != 1 || len(logs.Matching(testutil.Message("prepared"))) != 1 {
		t.Error("no record of the copy, or none of the end of the preparation")
	}
}

// TestInitStepOrder: the preparation runs, and logs, its steps in the
// order the package promises: trust install, rehash, obtain, the pair
// checked, copy, then the end of the preparation. Each step logs one
// record, about its own file or directory.
func TestInitStepOrder(t *testing.T) {
	dir := t.TempDir()
	root, capath, copyDir := t.TempDir(), filepath.Join(dir, "capath"), filepath.Join(dir, "copy")
	ca := testutil.NewCA(t, "step order CA")
	trust := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))
	testutil.WriteFile(t, capath, "ca.pem", testutil.CertPEM(ca.Cert))
	out := filepath.Join(dir, "acme")
	logs, err := initLogged(t, Config{
		Trust: []string{trust}, TrustStore: "dir:/store", Root: root,
		Rehash: []string{capath},
		ACME:   &acme.Config{Issuer: acme.IssuerLocal, Domains: []string{"localhost"}, Out: out},
		CopyTo: copyDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		msg        string
		key, value string // an attribute the record must have ("": none)
	}{
		{"trust installed", "", ""},
		{"rehashed", "path", capath},
		{"certificate", "domain", "localhost"},
		{"pair valid", "path", filepath.Join(out, acme.FullChainFile)},
		{"copied", "", ""},
		{"prepared", "", ""},
	}
	stepMsgs := map[string]bool{}
	for _, s := range steps {
		stepMsgs[s.msg] = true
	}
	got := logs.Matching(func(r testutil.Record) bool { return stepMsgs[r.Message] })
	if len(got) != len(steps) {
		t.Fatalf("%d step records, want %d: %+v", len(got), len(steps), got)
	}
	for i, s := range steps {
		if got[i].Message != s.msg || s.key != "" && got[i].Attrs[s.key] != s.value {
			t.Errorf("step %d: record %q %v, want %q with %s=%s", i+1, got[i].Message, got[i].Attrs, s.msg, s.key, s.value)
		}
	}
}

// TestInitSuggestsWait: a pair that is not there, with nothing waiting
// for it, is an error naming the file once and suggesting --wait; with
// --wait the error says how long it waited instead.
func TestInitSuggestsWait(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	for _, wait := range []time.Duration{0, time.Millisecond} {
		_, err := initLogged(t, Config{Cert: cert, Key: key, Wait: wait})
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("--wait %s: Init: %v; want a missing file", wait, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, cert+": ") || strings.Count(msg, cert) != 1 || strings.Contains(msg, "\n") {
			t.Errorf("--wait %s: %q should name %s once, first, on one line", wait, msg, cert)
		}
		if suggests := strings.Contains(msg, "--wait"); suggests != (wait == 0) {
			t.Errorf("--wait %s: %q: suggests --wait: %v, want %v", wait, msg, suggests, wait == 0)
		}
	}
}

// TestConfigCheck: options that do not combine are refused before
// anything is read or written.
func TestConfigCheck(t *testing.T) {
	o := &owner.Owner{UID: 0, GID: -1, Spec: "0"}
	local := &acme.Config{Issuer: acme.IssuerLocal, Domains: []string{"localhost"}, Out: "/out"}
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" for none
	}{
		{"pair", Config{Cert: "c", Key: "k"}, ""},
		{"cert without key", Config{Cert: "c"}, "--cert and --key"},
		{"chain without pair", Config{Chain: "ch"}, "--chain"},
		{"copy without pair", Config{CopyTo: "/copy"}, "--copy-to"},
		{"owner without copy", Config{Cert: "c", Key: "k", Owner: o}, "--owner"},
		{"owner of the ACME output", Config{ACME: local, Owner: o}, ""},
		{"copy of the ACME output", Config{ACME: local, CopyTo: "/copy", Owner: o}, ""},
		{"cert with ACME", Config{ACME: local, Cert: "c", Key: "k"}, "--cert and --acme-domain exclude each other"},
		{"same copy names", Config{Cert: "a/x.pem", Key: "b/x.pem", CopyTo: "/copy"}, "both called x.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Check()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestInitCopyRechecksChangedPair: a renewal lands between the start-up
// check and the copy, and another certinit sharing --copy-to has already
// copied it. The pair checked first is older: copying it would put the
// old pair back over the new one. Init checks the renewed pair instead
// and the copies stay the new ones.
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
	logs, err := initLogged(t, Config{Cert: certPath, Key: keyPath, CopyTo: copyDir})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("copied %d times, want 2 (refused, then the renewed pair)", calls)
	}
	if rechecks := logs.Matching(testutil.HasKey("attempt")); len(rechecks) != 1 || rechecks[0].Attrs["attempt"] != "1" {
		t.Errorf("records of checking the pair again: %v, want one, after attempt 1", rechecks)
	}
	for _, p := range []string{certPath, keyPath} {
		if !sameBytes(p, filepath.Join(copyDir, filepath.Base(p))) {
			t.Errorf("%s: the copy is not the renewed pair", filepath.Base(p))
		}
	}
}

// TestInitCopyGivesUpOnChangingPair: a pair that changes after every
// check is not copied forever: after copyAttempts checks Init stops with
// an error naming the pair and --copy-to, and nothing reached --copy-to.
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
	_, err := initLogged(t, Config{Cert: certPath, Key: keyPath, CopyTo: copyDir})
	if err == nil || !strings.HasPrefix(err.Error(), certPath+": ") || !strings.HasSuffix(err.Error(), copyDir) {
		t.Fatalf("Init: %v; want an error naming %s and %s", err, certPath, copyDir)
	}
	if calls != copyAttempts {
		t.Errorf("copied %d times, want %d", calls, copyAttempts)
	}
	if ents, err := os.ReadDir(copyDir); err != nil || len(ents) != 0 {
		t.Errorf("--copy-to holds %v (%v), want nothing", ents, err)
	}
}

// setCopyHook installs beforeCopy for one test.
func setCopyHook(t *testing.T, hook func()) {
	t.Helper()
	beforeCopy = hook
	t.Cleanup(func() { beforeCopy = nil })
}

// TestInitSignalInterruptsWait: SIGTERM or SIGINT stops a --wait for a pair
// that never comes; Init returns at once with an error naming the
// certificate. (cmd/certinit tests the same as PID 1.)
func TestInitSignalInterruptsWait(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cert := filepath.Join(dir, "never.pem")
			logs, log := testutil.NewLogs(t)
			done := make(chan error, 1)
			go func() {
				done <- Init(context.Background(), Config{Cert: cert, Key: filepath.Join(dir, "never-key.pem"), Wait: 10 * time.Minute}, log)
			}()
			// Logged once waiting, with the handler in place.
			logs.WaitFor(testutil.All(testutil.Message("waiting for certificate"), testutil.HasAttr("path", cert)), 10*time.Second)
			start := time.Now()
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err == nil || !strings.HasPrefix(err.Error(), cert+": ") {
					t.Fatalf("Init: %v; want an error naming %s", err, cert)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Init still waiting %s after %v", time.Since(start), sig)
			}
		})
	}
}
