package runner

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/metrics"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/supervisor"
	"github.com/certinit/certinit/watch"
)

// supervise runs COMMAND under sup with the watchers, the reloader and the
// renewal loop around it, until COMMAND exits for good.
func (s *state) supervise(ctx context.Context, sup *supervisor.Supervisor) (int, error) {
	s.expiry = s.newExpiry()
	rl := reload.New(reload.Config{
		Files:     s.files,
		Roots:     s.roots,
		CopyTo:    s.cfg.CopyTo,
		Owner:     s.cfg.copyOwner(),
		RestartOn: s.cfg.RestartOn,
		Signal:    s.cfg.Signal,
		Settle:    s.cfg.Settle,
		Rules:     s.reloadRules(),
		Hooks:     s.reloadHooks(),
		Log:       s.log,
		Initial:   s.snap, // the key type and bytes the server starts with
		Report:    s.reportReload,
	}, sup)
	sup.Notify(s.mon.BrokerUp)
	// The reload signal sent to certinit goes to COMMAND in step with the
	// reloads: never while the copies are being written or COMMAND is still
	// reading the last ones.
	sup.Redirect(s.signal(), rl.Forward)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The baselines are what the paths hold now, before COMMAND reads
	// them. A change of the pair or a --trust file between the
	// preparation and the baseline is caught by changedSincePrepare, once
	// COMMAND runs: a reload is for a running COMMAND.
	pair, others := s.watchPaths()
	var watchers []*watch.Watcher
	defer func() {
		for _, w := range watchers {
			w.Close()
		}
	}()
	for _, g := range []struct {
		paths    []string
		debounce time.Duration
	}{
		{pair, 0}, // checked at every event; a pair half done settles (reload.Config.Settle)
		{others, s.cfg.Debounce},
	} {
		if len(g.paths) == 0 {
			continue
		}
		w, err := watch.New(g.paths, watch.Options{Debounce: g.debounce, Poll: s.pollInterval(), Log: s.log})
		if err != nil {
			return 0, err
		}
		watchers = append(watchers, w)
	}
	s.rules.restarted() // what the broker reads when it starts
	var wg sync.WaitGroup
	sup.AfterStart(func() {
		wg.Go(func() { rl.Run(ctx) })
		wg.Go(func() { s.expiry.Loop(ctx) })
		wg.Go(func() {
			if changed := s.changedSincePrepare(); len(changed) > 0 {
				_ = rl.Changed(ctx, changed)
			}
			for _, w := range watchers {
				wg.Go(func() { _ = w.Run(ctx, func(changed []string) { _ = rl.Changed(ctx, changed) }) })
			}
		})
		if s.live != nil {
			wg.Go(func() {
				s.live.run(ctx, s.mon.Answering, func() error {
					s.rules.restarted()
					s.mon.BrokerRestarted(metrics.RestartLiveness)
					return sup.Restart()
				})
			})
		}
	})
	if s.issuer != nil {
		// A renewal goes through the path of a file change: validate,
		// copy, hooks, signal.
		wg.Go(func() {
			s.issuer.RenewLoop(ctx, func(res *acme.Result) { _ = rl.Renewed(ctx, res.Written) })
		})
	}
	code, err := sup.Run(ctx)
	cancel()
	wg.Wait()
	return code, err
}

// signal is the reload signal (--reload-signal).
func (s *state) signal() syscall.Signal {
	if s.cfg.Signal == 0 {
		return syscall.SIGHUP
	}
	return s.cfg.Signal
}

// pollInterval is the watchers' backstop rescan interval (watch.Options:
// negative disables it).
func (s *state) pollInterval() time.Duration {
	if s.cfg.Poll == 0 {
		return -1
	}
	return s.cfg.Poll
}

// watchPaths are the files and directories whose change matters: the pair
// (--cert, --key, --chain), checked at every event, and the others
// (--trust, --rehash, --watch, --restart-on, and the TLS files the
// broker's configuration names: rules.go), acted on after --debounce.
// The ACME output is not among them: certinit writes it itself and reloads
// through the renewal callback, so a watch would reload twice.
func (s *state) watchPaths() (pair, others []string) {
	if s.issuer == nil {
		pair = addPaths(nil, s.files.Cert, s.files.Key, s.files.Chain)
	}
	for _, p := range slices.Concat(s.cfg.Trust, s.cfg.Rehash, s.cfg.Watch, s.cfg.RestartOn, s.rules.watched()) {
		if !slices.Contains(pair, p) {
			others = addPaths(others, p)
		}
	}
	return pair, others
}

// addPaths appends each non-empty path not yet in paths.
func addPaths(paths []string, add ...string) []string {
	for _, p := range add {
		if p != "" && !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	return paths
}

// changedSincePrepare lists the watched files that no longer hold what the
// preparation used: the pair it checked (and copied) and the --trust files
// it installed.
func (s *state) changedSincePrepare() []string {
	var changed []string
	if s.snap != nil && s.issuer == nil && s.snap.Current() != nil {
		for _, p := range []string{s.files.Cert, s.files.Key, s.files.Chain} {
			if p != "" {
				changed = append(changed, p)
			}
		}
	}
	for _, p := range s.cfg.Trust {
		if b, err := pemfile.ReadFile(p); err != nil || !bytes.Equal(b, s.trustRead[p]) {
			changed = append(changed, p)
		}
	}
	return changed
}

// reloadHooks are run on every good change, after the copy and before the
// reload signal (syncTrust).
func (s *state) reloadHooks() []reload.Hook {
	if s.store == nil && len(s.cfg.Rehash) == 0 {
		return nil
	}
	return []reload.Hook{{Name: "trust store and hash links", Run: s.syncTrust}}
}

// syncTrust keeps the trust store and the hash links in step with a
// change: a changed --trust file is installed again, and every --rehash
// directory rehashed, as the file may live in one; a changed --rehash
// directory is rehashed. Neither runs a program, so neither takes
// s.reapLock. Rehashing a watched directory does not trigger itself: the
// watcher ignores hash links.
func (s *state) syncTrust(ctx context.Context, changed []string) error {
	trustChanged := slices.ContainsFunc(s.cfg.Trust, func(p string) bool { return slices.Contains(changed, p) })
	if trustChanged {
		if err := s.installTrust(ctx); err != nil {
			return err
		}
	}
	for _, dir := range s.cfg.Rehash {
		if trustChanged || slices.Contains(changed, dir) {
			if err := s.rehash(ctx, dir); err != nil {
				return err
			}
		}
	}
	return nil
}
