// Package watch tells when the content behind a set of paths changes:
// certificate and key files, CA files, capath directories, any file a
// server reads. It reports the paths (as given) whose bytes differ from the
// last report, once per burst of changes.
//
// It watches the parent directories of every path and of every symlink met
// while resolving it, because certbot's live/ link swap and Kubernetes'
// ..data swap never fire an event on the file's own name, and a rename over a
// file drops a per-file watch. Links are re-resolved on every event. With a
// debounce the paths are scanned once the directories have been quiet for it
// (a rehash or a trust install that is half done is not reported as what it
// is in the middle of); without one they are scanned at every event, and a
// caller that judges what it gets (reload, for the certificate pair) sees
// each step of a multi-file update. A slow poll backstops anything inotify
// cannot see (a parent directory renamed, a network file system, an
// exhausted inotify limit), and a change is reported only when a SHA-256 of
// the content differs. Files are read through
// internal/userfile: a FIFO or a device at a watched path is a change to
// "unreadable", reported once, never a read that blocks the next scan.
//
// It does not validate what it reads, and it does not act: the caller decides
// (reload validates the pair and signals the server).
package watch

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults, as documented for certinit run's --debounce and --poll. The
// watcher itself has no default debounce: zero scans at every event.
const (
	DefaultDebounce = 500 * time.Millisecond
	DefaultPoll     = 60 * time.Second
)

// maxDelayFactor caps how long a steady stream of events can postpone a
// scan: at most this many debounce periods after the first event of a burst.
const maxDelayFactor = 4

// Options tune a Watcher.
type Options struct {
	// Debounce is how long the directories must be quiet before a scan;
	// zero scans at every event that may concern a path.
	Debounce time.Duration
	// Poll is the interval of the backstop scan; zero is DefaultPoll,
	// negative disables it.
	Poll time.Duration
	// Log receives one line per decision; nil discards.
	Log *slog.Logger

	noNotify     bool   // test seam: poll only, as when inotify is unavailable
	afterResolve func() // test seam: runs between a resolve and the watches it asks for
}

// Watcher watches a fixed set of paths. Create it with New, call Run
// once, then Close.
type Watcher struct {
	paths    []string
	opts     Options
	log      *slog.Logger
	fsw      *fsnotify.Watcher // nil when inotify is unavailable
	baseline map[string]fingerprint
	byDir    map[string]bool // directories that are some path's target: every entry matters
	names    map[string]bool // entries whose events matter
	dirs     map[string]bool // the directories watched: their own removal or rename matters
}

// New sets up the watches and records the current content of every path as
// the baseline that later changes are compared with. Paths may be files or
// directories, and may not exist yet.
func New(paths []string, opts Options) (*Watcher, error) {
	if len(paths) == 0 {
		return nil, errors.New("watch: no paths to watch")
	}
	opts.Debounce = max(opts.Debounce, 0)
	if opts.Poll == 0 {
		opts.Poll = DefaultPoll
	}
	w := &Watcher{paths: append([]string(nil), paths...), opts: opts, log: opts.Log}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if !opts.noNotify {
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			// Not fatal: the poll still catches every change, later.
			w.log.Warn("inotify unavailable, polling only", "interval", opts.Poll, "err", err)
		} else {
			w.fsw = fsw
		}
	}
	// Watches first, then the baseline: a change after the baseline was
	// read always produces an event.
	w.watchAll()
	w.baseline = make(map[string]fingerprint, len(paths))
	for _, p := range w.paths {
		w.baseline[p] = fingerprintOf(p)
	}
	w.log.Debug("watching", "paths", len(w.paths), "dirs", w.dirCount())
	return w, nil
}

// Close releases the inotify watches, waiting for the kernel to remove
// each one. A process about to exit need not call it: exit releases them.
func (w *Watcher) Close() error {
	if w.fsw == nil {
		return nil
	}
	return w.fsw.Close()
}

// Run delivers changes to onChange until ctx is done; it does not close
// the watcher. onChange runs on Run's goroutine, so a slow handler delays
// the next scan but never overlaps itself; events arriving meanwhile are
// kept, and the first scan after it reports everything they changed (the
// scans for the rest of them find nothing new).
func (w *Watcher) Run(ctx context.Context, onChange func(changed []string)) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	var pollC <-chan time.Time
	if w.opts.Poll > 0 {
		t := time.NewTicker(w.opts.Poll)
		defer t.Stop()
		pollC = t.C
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	var burstStart time.Time // zero: no scan pending

	scan := func(why string) {
		burstStart = time.Time{}
		if changed := w.scan(why); len(changed) > 0 {
			onChange(changed)
		}
	}
	schedule := func() {
		if w.opts.Debounce == 0 {
			scan("event")
			return
		}
		now := time.Now()
		if burstStart.IsZero() {
			burstStart = now
		}
		delay := w.opts.Debounce
		if latest := burstStart.Add(maxDelayFactor * w.opts.Debounce); now.Add(delay).After(latest) {
			delay = max(latest.Sub(now), 0)
		}
		debounce.Reset(delay)
	}

	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if w.relevant(ev.Name) {
				w.log.Debug("file event", "path", ev.Name, "op", ev.Op.String())
				schedule()
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Typically a queue overflow: events were lost, so look.
			w.log.Warn("watch error, rescanning", "err", err)
			schedule()
		case <-debounce.C:
			scan("event")
		case <-pollC:
			scan("poll")
		}
	}
}

// scan re-resolves every path (links may point elsewhere now), updates the
// watches, and returns the paths whose content differs from the baseline,
// making the new content the baseline.
func (w *Watcher) scan(why string) []string {
	w.watchAll()
	var changed []string
	for _, p := range w.paths {
		fp := fingerprintOf(p)
		if fp != w.baseline[p] {
			w.log.Debug("content changed", "path", p, "trigger", why)
			w.baseline[p] = fp
			changed = append(changed, p)
		}
	}
	return changed
}

// watchAll resolves every path and watches the directories of its trail.
// A directory created between a resolve and the watch that resolve asked
// for (its parent's) fired its event before anyone listened, so it resolves
// again until no watch is added: the directory is then watched before any
// content is read. The rounds are bounded, for a tree that keeps changing
// (the poll covers what is left); each round that adds a watch finds at
// least one more directory of a trail.
func (w *Watcher) watchAll() {
	for range maxResolveRounds {
		if !w.resolveAll() {
			return
		}
	}
}

const maxResolveRounds = 8

// resolveAll recomputes every path's trail and brings the inotify watches
// in line: add what is new, drop directories no path leads through anymore
// (an old certbot archive directory, a deleted Kubernetes timestamp dir).
// It reports whether it added a watch.
func (w *Watcher) resolveAll() (added bool) {
	w.byDir = map[string]bool{}
	w.names = map[string]bool{}
	want := map[string]bool{}
	w.dirs = want
	for _, p := range w.paths {
		t := resolve(p)
		for _, d := range t.dirs {
			want[d] = true
		}
		for n := range t.names {
			w.names[n] = true
		}
		if t.whole != "" {
			w.byDir[t.whole] = true
		}
	}
	if w.fsw == nil {
		return false
	}
	if w.opts.afterResolve != nil {
		w.opts.afterResolve()
	}
	have := map[string]bool{}
	for _, d := range w.fsw.WatchList() {
		have[d] = true
		if !want[d] {
			_ = w.fsw.Remove(d) // already gone with its directory: nothing to undo
		}
	}
	for d := range want {
		if have[d] {
			continue
		}
		if err := w.fsw.Add(d); err != nil {
			// The directory vanished between resolve and Add, or the
			// inotify limit is reached; the poll covers both.
			w.log.Debug("cannot watch directory", "path", d, "err", err)
			continue
		}
		added = true
	}
	return added
}

// relevant reports whether an event on name can change any watched path.
// The removal or rename of a watched directory itself is one: inotify drops
// its watch, and only the scan that follows watches the directory again if
// it was recreated meanwhile (fsnotify forgets the old watch before it
// delivers that event, so the scan adds the new one).
func (w *Watcher) relevant(name string) bool {
	return w.names[name] || w.byDir[filepath.Dir(name)] || w.byDir[name] || w.dirs[name]
}

func (w *Watcher) dirCount() int {
	if w.fsw == nil {
		return 0
	}
	return len(w.fsw.WatchList())
}
