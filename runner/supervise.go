package runner

import (
	"bytes"
	"context"
	"slices"
	"sync"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/supervisor"
	"github.com/certinit/certinit/watch"
)

// supervise runs COMMAND under sup with the watcher, the reloader and the
// renewal loop around it, until COMMAND exits for good.
func (s *state) supervise(ctx context.Context, sup *supervisor.Supervisor) (int, error) {
	rl := reload.New(reload.Config{
		Files:     s.files,
		Roots:     s.roots,
		CopyTo:    s.cfg.CopyTo,
		Owner:     s.cfg.copyOwner(),
		RestartOn: s.cfg.RestartOn,
		Signal:    s.cfg.Signal,
		Hooks:     s.reloadHooks(),
		Log:       s.log,
		Initial:   s.snap, // the key type the server starts with
	}, sup)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var w *watch.Watcher
	if paths := s.watchPaths(); len(paths) > 0 {
		// The baseline is what the paths hold now, before COMMAND reads
		// them. A change of the pair or a --trust file between the
		// preparation and the baseline is caught by changedSincePrepare,
		// once COMMAND runs: a reload is for a running COMMAND.
		poll := s.cfg.Poll
		if poll == 0 {
			poll = -1 // watch.Options: negative disables
		}
		var err error
		if w, err = watch.New(paths, watch.Options{Debounce: s.cfg.Debounce, Poll: poll, Log: s.log}); err != nil {
			return 0, err
		}
		sup.AfterStart(func() {
			wg.Go(func() {
				if changed := s.changedSincePrepare(); len(changed) > 0 {
					_ = rl.Changed(ctx, changed)
				}
				_ = w.Run(ctx, func(changed []string) { _ = rl.Changed(ctx, changed) })
			})
		})
	}
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
	if w != nil {
		w.Close()
	}
	return code, err
}

// watchPaths are the files and directories whose change matters. The ACME
// output is not among them: certinit writes it itself and reloads through
// the renewal callback, so a watch would reload twice.
func (s *state) watchPaths() []string {
	var pair []string
	if s.issuer == nil {
		pair = []string{s.files.Cert, s.files.Key, s.files.Chain}
	}
	var paths []string
	for _, p := range slices.Concat(pair, s.cfg.Trust, s.cfg.Rehash, s.cfg.Watch, s.cfg.RestartOn) {
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
