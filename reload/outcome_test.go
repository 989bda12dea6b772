package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// failing is a Target whose signal and restart cannot be delivered.
type failing struct{}

var errGone = errors.New("the server is gone")

func (failing) Signal(syscall.Signal) error { return errGone }
func (failing) Restart() error              { return errGone }

// TestReport: every decided change is reported once, with how it reached
// the server, the step that refused it and why, or why it could not be
// delivered; a pair already served reports nothing.
func TestReport(t *testing.T) {
	f := newFixture(t)
	copyDir := filepath.Join(f.dir, "copy")
	var hookErr error
	var out testutil.Collected[Outcome]
	cfg := Config{Files: Files{Cert: f.cert, Key: f.key}, CopyTo: copyDir, RestartOn: []string{f.cafile},
		Hooks: []Hook{{Name: "hook", Run: func(context.Context, []string) error { return hookErr }}},
		Log:   testutil.Logger(t), Report: out.Add}
	r := New(cfg, &recorder{})
	ctx := context.Background()
	one := func(what string) Outcome {
		t.Helper()
		got := out.Take()
		if len(got) != 1 {
			t.Fatalf("%s: %d outcomes, want 1: %+v", what, len(got), got)
		}
		return got[0]
	}

	f.writePair(testutil.CertOpts{})
	_ = r.Changed(ctx, []string{f.cert, f.key})
	if o := one("a renewal"); o.Refused != nil || o.Failed != nil || o.Action != Signal {
		t.Errorf("a renewal: %+v, want a signal", o)
	}
	_ = r.Changed(ctx, []string{f.cert})
	if got := out.Take(); len(got) != 0 {
		t.Errorf("the pair as served: %+v, want nothing", got)
	}
	f.rewriteCA()
	_ = r.Changed(ctx, []string{f.cafile})
	if o := one("a --restart-on file"); o.Refused != nil || o.Action != Restart {
		t.Errorf("a --restart-on file: %+v, want a restart", o)
	}
	f.writePairKeyOnly()
	_ = r.Changed(ctx, []string{f.key})
	if o := one("a mismatched key"); o.Stage != StageCheck || !errors.Is(o.Refused, pemfile.ErrKeyMismatch) {
		t.Errorf("a mismatched key: %+v, want refused at the check for the mismatch", o)
	}
	f.writePair(testutil.CertOpts{})
	r.cfg.Roots = []string{f.otherCA()}
	_ = r.Changed(ctx, []string{f.cert, f.key})
	if o := one("a chain to another CA"); o.Stage != StageCheck || !errors.Is(o.Refused, ErrChain) {
		t.Errorf("a chain to another CA: %+v, want refused at the check for the chain", o)
	}
	r.cfg.Roots = nil
	hookErr = errors.New("the trust store is read-only")
	_ = r.Changed(ctx, []string{f.cert, f.key})
	if o := one("a failing hook"); o.Stage != StageHook || !errors.Is(o.Refused, hookErr) {
		t.Errorf("a failing hook: %+v, want refused at the hook", o)
	}
	hookErr = nil
	copied := filepath.Join(copyDir, "fullchain.pem")
	if err := os.Remove(copied); err != nil {
		t.Fatal(err)
	}
	testutil.Mkdir(t, filepath.Join(copied, "in-the-way")) // a directory where the copy goes
	_ = r.Changed(ctx, []string{f.cert})
	if o := one("a copy in the way"); o.Stage != StageCopy || o.Refused == nil {
		t.Errorf("a copy that cannot be written: %+v, want refused at the copy", o)
	}

	cfg.CopyTo, cfg.Hooks = "", nil
	r = New(cfg, failing{})
	f.writePair(testutil.CertOpts{})
	_ = r.Changed(ctx, []string{f.cert, f.key})
	if o := one("a signal that fails"); o.Refused != nil || o.Action != Signal || !errors.Is(o.Failed, errGone) {
		t.Errorf("a signal that fails: %+v", o)
	}
}
