// Package reload decides what a change of certificate files means for the
// running server, and does it safely: validate the new pair with the checks
// the server will make, copy it where the server's user can read it, run
// the integration hooks (trust store, hash links), then send the reload
// signal, or restart the server when a file it only reads at start-up
// changed or the key type changed (an OpenSSL server keeps the old
// certificate beside a new one of another type; see keytype.go), or do
// nothing when the server's own configuration says it reads the changed
// files by itself (Config.Rules, decision.go). A pair that fails its
// checks may be a renewal half done: it waits for the changes that
// complete it, and is refused only when it is still bad after
// Config.Settle (settle.go). A change that is refused gets one logged line
// and nothing else happens: the server keeps serving the old certificate
// and new handshakes keep working; the change is remembered, so the next
// good change does what the refused one would have done.
//
// It does not detect changes (watch does) or run processes (supervisor
// does); both meet here through Changed and the Target interface.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/supervisor"
)

// Target is what gets reloaded: *supervisor.Supervisor.
type Target interface {
	Signal(sig syscall.Signal) error
	Restart() error
}

var _ Target = (*supervisor.Supervisor)(nil)

// Hook is one step run on a good change after the copy and before the
// signal, in order: installing changed trust files, rehashing a capath.
// It gets every path changed since the last successful reload and decides
// itself whether it has work. An error refuses the reload.
type Hook struct {
	Name string
	Run  func(ctx context.Context, changed []string) error
}

// Config says what to validate and how to reload.
type Config struct {
	Files     Files          // Cert and Key empty: nothing to validate
	Roots     []string       // CA files the chain must verify to; none: chain not checked
	CopyTo    string         // copy the pair here (base names kept); empty: no copy
	Owner     *owner.Owner   // owner of the copies; nil: unchanged
	RestartOn []string       // a change of one of these restarts instead of signalling
	Signal    syscall.Signal // the reload signal; zero: SIGHUP
	// Rules, when set, decides from the server's own configuration what a
	// change needs: the signal, a restart or nothing (decision.go).
	// Without it every change gets the signal. RestartOn and a new key
	// type restart whatever it says.
	Rules Rules
	// Settle is how long a pair that fails its checks may wait for the
	// changes that complete it before it is refused (settle.go); zero
	// refuses it at the first check. Run must run for a refusal to come
	// without a further change.
	Settle time.Duration
	Hooks  []Hook
	Log    *slog.Logger
	// Report, when set, is told the outcome of every change that was
	// decided (outcome.go); it must not block.
	Report func(Outcome)
	// Initial is the pair the server starts with, as the preparation
	// checked (and copied) it. Its key type is the one the server loaded
	// first; without it, that type is read from disk when the Reloader is
	// created, where a renewal that landed after the preparation may
	// already be.
	Initial *Snapshot
}

// Check reports configuration mistakes, for the CLI's usage errors.
func (c *Config) Check() error {
	f := c.Files
	switch {
	case (f.Cert == "") != (f.Key == ""):
		return errors.New("--cert and --key go together")
	case f.Chain != "" && f.Cert == "":
		return errors.New("--chain needs --cert and --key")
	case c.CopyTo != "" && f.Cert == "":
		return errors.New("--copy-to needs --cert and --key")
	case c.Owner != nil && c.CopyTo == "":
		return errors.New("--owner applies to copies: it needs --copy-to")
	}
	if c.CopyTo != "" {
		seen := map[string]string{}
		for _, p := range f.list() {
			b := filepath.Base(p)
			if other, ok := seen[b]; ok {
				return fmt.Errorf("--copy-to keeps file names, but %s and %s are both called %s", other, p, b)
			}
			seen[b] = p
		}
	}
	return nil
}

// Reloader applies changes. Changed may be called from several goroutines
// (the watchers, a renewal loop) and from Run; calls are serialised, so a
// change that arrives while a reload is under way is checked once that
// reload is done.
type Reloader struct {
	cfg    Config
	target Target
	log    *slog.Logger
	now    func() time.Time // test seam: the time certificates must be valid at

	mu      sync.Mutex
	pending []string  // changed since the last successful reload
	served  keyType   // of the pair the server last loaded
	loaded  *Snapshot // the pair the server last loaded; nil: not known
	acted   time.Time // when the server was last signalled or restarted
	settle  settling  // a failing pair waiting for more changes

	forward chan struct{} // Forward's request, for Run; room for one
}

// readTime is how long the server has, after a reload signal or a restart
// request, to read the files it was told to read before certinit checks,
// copies and signals again. It reads them a moment after the signal, one file after
// the other; a copy landing in between would give it a certificate and a
// key from two renewals, which it cannot load (it would then serve the
// certificate without its key until the next signal). Changes that arrive
// meanwhile wait, and are checked together once it has passed.
const readTime = 100 * time.Millisecond

// New returns a Reloader for cfg that acts on target.
func New(cfg Config, target Target) *Reloader {
	if cfg.Signal == 0 {
		cfg.Signal = syscall.SIGHUP
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reloader{cfg: cfg, target: target, log: log, now: time.Now, served: startingKeyType(cfg),
		loaded: cfg.Initial, settle: newSettling(), forward: make(chan struct{}, 1)}
}

// Forward asks for the reload signal to be sent to the server for someone
// who sent it to certinit (kill -HUP 1): Run sends it in step with
// certinit's own reloads, never while the copies are being written nor
// within readTime of the last signal, which the server might still be
// reading for, or miss while it reloads. Requests made before Run sends
// one are sent as one, and a request is always followed by a signal sent
// after it. It does not block.
func (r *Reloader) Forward() {
	select {
	case r.forward <- struct{}{}:
	default: // one is pending, and will be sent after this request
	}
}

// forwardSignal sends the reload signal for Forward.
func (r *Reloader) forwardSignal(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waitRead(ctx) != nil {
		return
	}
	r.log.Debug("forwarding signal", "signal", supervisor.SignalName(r.cfg.Signal))
	if err := r.target.Signal(r.cfg.Signal); err != nil {
		r.log.Warn("cannot forward the reload signal", "err", err)
	}
	r.acted = time.Now()
}

// Renewed is the entry point for in-process renewals (ACME, local issuer):
// it logs the renewal and goes through exactly the path a file change does.
func (r *Reloader) Renewed(ctx context.Context, paths []string) error {
	r.log.Info("renewed", "paths", paths)
	return r.Changed(ctx, paths)
}

// Changed handles changed paths: check the pair as it is now, then
// validate, copy, run the hooks, and signal or restart. It restarts when a
// --restart-on path changed or when the new pair's key type differs from
// the one the server loaded last. A pair that is the one the server
// already has, with nothing else changed, is left alone. A pair that fails
// its checks waits for more changes (settle.go) and Changed returns nil;
// a change that is refused returns its reason (already logged) and stays
// pending.
func (r *Reloader) Changed(ctx context.Context, changed []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range changed {
		if !slices.Contains(r.pending, p) {
			r.pending = append(r.pending, p)
		}
	}
	return r.check(ctx)
}

// waitRead waits until the server has had readTime since it was last
// signalled or restarted; the caller holds mu, so every other change waits
// too and is checked with this one.
func (r *Reloader) waitRead(ctx context.Context) error {
	left := readTime - time.Since(r.acted)
	if r.acted.IsZero() || left <= 0 {
		return nil
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// check does what Changed says with what is pending, once the server has
// read what it was last told to; the caller holds mu.
func (r *Reloader) check(ctx context.Context) error {
	if err := r.waitRead(ctx); err != nil {
		return err
	}
	// The pair is checked on any change, not only its own: the signal
	// makes the server reload it too.
	var snap *Snapshot
	if r.cfg.Files.Cert != "" {
		var err error
		if snap, err = Load(r.cfg.Files, r.cfg.Roots, r.now()); err != nil {
			if r.unsettled(err) {
				return nil
			}
			return r.refuse(StageCheck, err)
		}
		r.settled()
		if r.loaded != nil && snap.sameBytes(r.loaded) && !slices.ContainsFunc(r.pending, r.notPair) {
			r.log.Debug("pair as served", "path", r.cfg.Files.Cert)
			r.pending = nil
			return nil
		}
	}
	stage, err := r.prepare(ctx, snap, r.pending)
	if errors.Is(err, ErrSuperseded) {
		// Not a problem with the files: they changed again while being
		// handled, and the watcher brings that change here next.
		r.log.Info("reload deferred", "reason", err.Error(), "changed", r.pending)
		return nil
	} else if err != nil {
		return r.refuse(stage, err)
	}
	all := r.pending
	r.pending = nil
	return r.act(all, snap)
}

// refuse logs the one line of a change that stage refused (its reason,
// and its kind in one word), reports it, and returns its reason.
func (r *Reloader) refuse(stage Stage, err error) error {
	o := Outcome{Refused: err, Stage: stage}
	r.log.Error("reload refused", "reason", err.Error(), "kind", o.Kind(), "changed", r.pending)
	r.report(o)
	return err
}

// notPair reports whether p is none of the pair's files.
func (r *Reloader) notPair(p string) bool { return !slices.Contains(r.cfg.Files.list(), p) }

// act carries out what a good change with pair snap (nil without --cert)
// needs: a restart, the reload signal or nothing (decide), and records
// snap as loaded once that is done.
func (r *Reloader) act(changed []string, snap *Snapshot) error {
	next := r.served
	if snap != nil {
		next = leafKeyType(snap.Pair.Chain[0])
	}
	d, keyTypes := r.decide(changed, snap, next)
	attrs := []any{"rule", d.Rule, "path", d.Path, "reason", d.Reason, "changed", changed}
	if d.Option != "" {
		attrs = append(attrs, "option", d.Option)
	}
	switch d.Action {
	case Nothing:
		r.log.Info("no reload needed", attrs...)
		r.report(Outcome{Action: Nothing})
		r.loaded = snap
		return nil
	case Restart:
		r.log.Info("restarting", append(attrs, keyTypes...)...)
		if err := r.target.Restart(); err != nil {
			r.report(Outcome{Action: Restart, Failed: err})
			return err
		}
	default:
		r.log.Info("reloading", append([]any{"signal", supervisor.SignalName(r.cfg.Signal)}, attrs...)...)
		if err := r.target.Signal(r.cfg.Signal); err != nil {
			r.log.Error("reload signal failed", "err", err)
			r.report(Outcome{Action: Signal, Failed: err})
			return err
		}
	}
	r.report(Outcome{Action: d.Action})
	r.acted = time.Now()
	r.served = next
	if snap != nil {
		r.loaded = snap
	}
	return nil
}

// decide says what changed needs. A new key type or a --restart-on path
// restarts, a changed pair is signalled; Config.Rules may ask for more
// from the server's configuration. Without Rules every change is
// signalled. keyTypes are the log attributes of a key-type restart.
func (r *Reloader) decide(changed []string, snap *Snapshot, next keyType) (d Decision, keyTypes []any) {
	switch restartOn := slices.IndexFunc(changed, func(p string) bool { return slices.Contains(r.cfg.RestartOn, p) }); {
	case next.changedFrom(r.served):
		d = Decision{Action: Restart, Rule: RuleKeyType, Path: r.cfg.Files.Cert,
			Reason: fmt.Sprintf("key type changed from %s to %s: on a reload signal the server would keep serving the old certificate beside the new one; the restart disconnects clients, which reconnect",
				r.served.desc, next.desc)}
		keyTypes = []any{"old_key_type", r.served.desc, "new_key_type", next.desc}
	case restartOn >= 0:
		d = Decision{Action: Restart, Rule: RuleRestartOn, Path: changed[restartOn],
			Reason: "a --restart-on file changed; the server reads it only at start"}
	case snap != nil && (r.loaded == nil || !snap.sameBytes(r.loaded)):
		d = Decision{Action: Signal, Rule: RuleSignal, Path: r.cfg.Files.Cert, Reason: "the certificate pair changed"}
	}
	if r.cfg.Rules != nil {
		return r.cfg.Rules.Decide(changed, d), keyTypes
	}
	if d.Action == Nothing {
		d = Decision{Action: Signal, Rule: RuleSignal,
			Reason: "a watched path changed; without the server's configuration every change gets the reload signal"}
		if len(changed) > 0 {
			d.Path = changed[0]
		}
	}
	return d, keyTypes
}

// prepare validates and prepares everything the server will read besides
// the checked pair snap (nil without --cert): the other changed files, the
// copy, the hooks. It changes nothing the server uses unless every check
// passed; an error comes with the stage it stopped at. The pair's files
// are not read again here: Load has just checked them, and a change since
// then is the next check's (settle.go).
func (r *Reloader) prepare(ctx context.Context, snap *Snapshot, changed []string) (Stage, error) {
	for _, p := range changed {
		if !r.notPair(p) {
			continue
		}
		if err := checkPEM(p); err != nil {
			return StageCheck, err
		}
	}
	if snap != nil && r.cfg.CopyTo != "" {
		if _, err := snap.CopyToIfCurrent(ctx, r.cfg.CopyTo, r.cfg.Owner); err != nil {
			return StageCopy, err
		}
	}
	for _, h := range r.cfg.Hooks {
		if err := h.Run(ctx, changed); err != nil {
			return StageHook, fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return StageCheck, nil
}
