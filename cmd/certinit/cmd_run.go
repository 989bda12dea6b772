package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/supervisor"
	"github.com/certinit/certinit/watch"
)

func (a *app) runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "prepare certificates and trust, then start, watch and reload COMMAND",
		ArgsUsage: "-- COMMAND [ARGS...]",
		Description: "Prepares (installs --trust files into the trust store, rehashes --rehash directories,\n" +
			"obtains a certificate with --acme-domain, waits for --cert/--key to be a valid pair, copies\n" +
			"them to --copy-to owned by --owner), then starts COMMAND as its supervisor: forwards signals,\n" +
			"reaps zombies as PID 1, exits with COMMAND's code. It watches the certificate files, --trust\n" +
			"files, --rehash directories, --watch and --restart-on paths, and renews --acme-domain\n" +
			"certificates; on a change that loads as a valid pair it copies it, re-installs trust and\n" +
			"rehashes as needed and sends --reload-signal, or restarts COMMAND when a --restart-on file\n" +
			"changed. An invalid change is refused and logged; the server keeps its last good\n" +
			"certificate. --exec replaces certinit with COMMAND instead.",
		Flags: append(prepareFlags(),
			&cli.StringSliceFlag{Name: "watch", Usage: "also watch `PATH` (file or directory); a change reloads (repeatable)"},
			&cli.StringFlag{Name: "reload-signal", Value: "HUP", Usage: "`SIG` that makes COMMAND reload its certificates (HUP, USR1, USR2, INT, QUIT, TERM, WINCH, ALRM)"},
			&cli.StringSliceFlag{Name: "restart-on", Usage: "restart COMMAND instead of signalling when `PATH` changes (repeatable)"},
			&cli.DurationFlag{Name: "debounce", Value: watch.DefaultDebounce, Usage: "quiet `DURATION` after a file event before acting"},
			&cli.DurationFlag{Name: "poll", Value: watch.DefaultPoll, Usage: "rescan every `DURATION` even without events (0 disables)"},
			&cli.DurationFlag{Name: "stop-timeout", Value: supervisor.DefaultStopTimeout, Usage: "`DURATION` COMMAND gets after SIGTERM/SIGINT before SIGKILL"},
			&cli.BoolFlag{Name: "exec", Usage: "after preparing, replace certinit with COMMAND (nothing is watched)"},
		),
		Action: func(c *cli.Context) error { return a.runAction(c, false) },
	}
}

func (a *app) initCommand() *cli.Command {
	return &cli.Command{
		Name:        "init",
		Usage:       "prepare certificates and trust, then exit (init containers)",
		Description: "Does what run does before starting COMMAND, then exits 0.",
		Flags:       prepareFlags(),
		Action:      func(c *cli.Context) error { return a.runAction(c, true) },
	}
}

// prepareFlags are the flags run and init share.
func prepareFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "cert", Usage: "certificate `FILE` (leaf first, chain may follow) the server loads"},
		&cli.StringFlag{Name: "key", Usage: "private key `FILE` of --cert"},
		&cli.StringFlag{Name: "chain", Usage: "separate chain `FILE` (certbot's chain.pem), checked, watched and copied with the pair"},
		&cli.DurationFlag{Name: "wait", Usage: "wait up to `DURATION` for --cert and --key to exist and be a valid pair"},
		&cli.StringFlag{Name: "copy-to", Usage: "copy the pair (and chain) into `DIR`, keeping their file names"},
		&cli.StringFlag{Name: "owner", Usage: "`USER[:GROUP]` owning the copies and the --acme-out files; the key is 0600, 0640 with a group"},
	}, integrationFlags()...)
}

// runConfig is everything run and init were told, checked.
type runConfig struct {
	reload      reload.Config
	wait        time.Duration
	watch       []string
	debounce    time.Duration
	poll        time.Duration
	stopTimeout time.Duration
	exec        bool
	args        []string
	// reapLock is held by the supervisor's reaper; a hook that runs a
	// program while COMMAND runs holds it for reading from Start to Wait.
	reapLock sync.RWMutex

	snap  *reload.Snapshot // the validated pair, once the wait step ran
	integ integration      // --trust, --rehash, --acme-* (run_steps.go)
	// supervised is set when COMMAND will run under the watcher (run,
	// not init or --exec); rehashed then holds the --rehash directories
	// as the preparation left them, when they were taken beside a trust
	// install still running (prepareTrustAside).
	supervised bool
	rehashed   watch.Snapshot
}

// prepareStep is one thing done before COMMAND starts; the first error
// stops certinit with that one line.
type prepareStep struct {
	name string
	run  func(ctx context.Context) error
}

// prepareSteps lists, in order, what run and init do before COMMAND.
func (a *app) prepareSteps(rc *runConfig) []prepareStep {
	steps := a.integrationSteps(rc)
	if rc.reload.Files.Cert != "" {
		steps = append(steps, prepareStep{"wait for certificate", func(ctx context.Context) error {
			snap, err := a.waitForPair(ctx, rc, rc.wait)
			rc.snap = snap
			return err
		}})
	}
	if rc.reload.CopyTo != "" {
		steps = append(steps, prepareStep{"copy", func(ctx context.Context) error { return a.copyPair(ctx, rc) }})
	}
	return steps
}

// The start-up copy checks the pair again when it changed between its
// check and its copy, at most copyAttempts times in all, each time waiting
// at least recheckWait for it to be valid (a renewal still being written).
const (
	copyAttempts = 5
	recheckWait  = 5 * time.Second
)

// testHookBeforeCopy, set by tests, runs before each start-up copy: where
// a renewal lands between the check and the copy.
var testHookBeforeCopy func()

// copyPair is the copy step. Like a reload, it copies only while the
// source still holds the bytes it checked (CopyToIfCurrent): another
// certinit sharing --copy-to may already have copied a newer pair, which
// this older one must not replace. When the source changed, the new pair
// is checked and copied instead, and becomes rc.snap, the pair the server
// starts with.
func (a *app) copyPair(ctx context.Context, rc *runConfig) error {
	for n := 1; ; n++ {
		if testHookBeforeCopy != nil {
			testHookBeforeCopy()
		}
		written, err := rc.snap.CopyToIfCurrent(ctx, rc.reload.CopyTo, rc.reload.Owner)
		switch {
		case err == nil:
			a.log.Info("copied", "files", written)
			return nil
		case !errors.Is(err, reload.ErrSuperseded):
			return err
		case n == copyAttempts:
			return fmt.Errorf("%s: the pair changed again after each of %d checks; nothing copied to %s",
				rc.reload.Files.Cert, n, rc.reload.CopyTo)
		}
		a.log.Info("pair changed after it was checked; checking it again", "reason", err.Error())
		if rc.snap, err = a.waitForPair(ctx, rc, max(rc.wait, recheckWait)); err != nil {
			return err
		}
	}
}

// changedSincePrepare lists the watched files that no longer hold what the
// preparation used: the pair it checked (and copied) and the --trust files
// it installed. The watcher's baseline is read after the preparation, so a
// change that lands in between (a renewal during start-up) would otherwise
// be seen only when the files change again.
func (rc *runConfig) changedSincePrepare() []string {
	var changed []string
	f := rc.reload.Files
	if rc.snap != nil && rc.integ.issuer == nil && rc.snap.Current() != nil {
		for _, p := range []string{f.Cert, f.Key, f.Chain} {
			if p != "" {
				changed = append(changed, p)
			}
		}
	}
	for _, p := range rc.integ.trust {
		if b, err := pemfile.ReadFile(p); err != nil || !bytes.Equal(b, rc.integ.trustInstalled[p]) {
			changed = append(changed, p)
		}
	}
	return changed
}

// pathsNotPrepared are the watched paths whose content the preparation did
// not record (--rehash directories, --watch and --restart-on paths), so
// that changedSincePrepare cannot tell a change in them.
func (rc *runConfig) pathsNotPrepared() []string {
	covered := slices.Concat([]string{rc.reload.Files.Cert, rc.reload.Files.Key, rc.reload.Files.Chain}, rc.integ.trust)
	if rc.integ.issuer != nil {
		covered = rc.integ.trust
	}
	var out []string
	for _, p := range rc.watchPaths() {
		if !slices.Contains(covered, p) {
			out = append(out, p)
		}
	}
	return out
}

// watchPaths are the files and directories whose change matters. The
// output of --acme-domain is not among them: certinit writes it itself and
// reloads through the renewal callback, so a watch would reload twice.
func (rc *runConfig) watchPaths() []string {
	var paths []string
	f := rc.reload.Files
	if rc.integ.issuer != nil {
		f = reload.Files{}
	}
	all := slices.Concat([]string{f.Cert, f.Key, f.Chain}, rc.integ.trust, rc.integ.rehash, rc.watch, rc.reload.RestartOn)
	for _, p := range all {
		if p != "" && !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	return paths
}

func (a *app) runAction(c *cli.Context, initOnly bool) error {
	ctx, stop := interruptible(c.Context)
	defer stop() // at the latest; the preparation's end stops it below
	rc, err := a.parseRunConfig(c, initOnly)
	if err != nil {
		return err
	}
	rc.supervised = !initOnly && !rc.exec
	// Find COMMAND before preparing, so a typo costs no side effects.
	var sup *supervisor.Supervisor
	if !initOnly {
		files, closeFiles := a.childFiles()
		defer closeFiles()
		if rc.exec {
			_, err = supervisor.LookPath(rc.args[0])
		} else {
			sup, err = supervisor.New(supervisor.Options{Args: rc.args, Files: files, StopTimeout: rc.stopTimeout, ReapLock: &rc.reapLock, Log: a.log})
		}
		if err != nil {
			return startExit(err)
		}
	}
	err = a.prepare(ctx, rc)
	stop()
	if err != nil {
		return err
	}
	switch {
	case initOnly:
		a.log.Info("prepared")
		return nil
	case rc.exec:
		a.log.Debug("exec", "command", rc.args[0])
		return startExit(supervisor.Exec(rc.args, nil))
	}
	return a.supervise(c.Context, rc, sup)
}

// prepare runs the steps, with ctx from interruptible: SIGTERM/SIGINT
// interrupt a long --wait.
func (a *app) prepare(ctx context.Context, rc *runConfig) error {
	steps := a.prepareSteps(rc)
	if len(steps) > 1 && steps[0].name == trustStep && a.trustAside(rc) {
		return a.prepareTrustAside(ctx, rc, steps)
	}
	return a.runSteps(ctx, steps)
}

func (a *app) runSteps(ctx context.Context, steps []prepareStep) error {
	for _, st := range steps {
		a.log.Debug("prepare", "step", st.name)
		if err := st.run(ctx); err != nil {
			return err
		}
	}
	return nil
}

// supervise runs COMMAND with the watcher and the reloader around it.
func (a *app) supervise(ctx context.Context, rc *runConfig, sup *supervisor.Supervisor) error {
	rc.reload.Hooks = a.reloadHooks(rc)
	rc.reload.Log = a.log
	rc.reload.Initial = rc.snap // the key type the server starts with
	rl := reload.New(rc.reload, sup)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if paths := rc.watchPaths(); len(paths) > 0 {
		// Set up once COMMAND started, not before: nothing is lost. A
		// change between the preparation and the watcher's baseline is
		// caught by changedSincePrepare (the pair, the --trust files) or
		// against what the other watched paths held before COMMAND
		// started (before), and a reload waits for the supervisor to
		// take it. watch.New fails only without paths.
		rest := slices.DeleteFunc(rc.pathsNotPrepared(), func(p string) bool { _, ok := rc.rehashed[p]; return ok })
		before := watch.Take(rest)
		maps.Copy(before, rc.rehashed)
		sup.AfterStart(func() {
			wg.Go(func() {
				w, err := watch.New(paths, watch.Options{Debounce: rc.debounce, Poll: rc.poll, Log: a.log})
				if err != nil {
					a.log.Error("cannot watch; changes are not reloaded", "err", err)
					return
				}
				// Not closed: certinit exits right after COMMAND, and closing
				// inotify watches would add tens of milliseconds to every exit.
				if changed := slices.Concat(rc.changedSincePrepare(), w.ChangedSince(before)); len(changed) > 0 {
					_ = rl.Changed(ctx, changed)
				}
				_ = w.Run(ctx, func(changed []string) { _ = rl.Changed(ctx, changed) })
			})
		})
	}
	if rc.integ.issuer != nil {
		wg.Go(func() { rc.integ.startRenewals(ctx, rl) })
	}
	code, err := sup.Run(ctx)
	cancel()
	if err != nil {
		return startExit(err)
	}
	if code != 0 {
		return &exitError{code: code, silent: true}
	}
	return nil
}

func (a *app) parseRunConfig(c *cli.Context, initOnly bool) (*runConfig, error) {
	rc := &runConfig{
		reload: reload.Config{Files: reload.Files{Cert: c.String("cert"), Key: c.String("key"), Chain: c.String("chain")}, CopyTo: c.String("copy-to")},
		wait:   c.Duration("wait"),
	}
	var o *owner.Owner
	if s := c.String("owner"); s != "" {
		var err error
		if o, err = owner.Parse(s); err != nil {
			return nil, usageErrorf("--owner: %v", err)
		}
	}
	if err := a.parseIntegration(c, rc, o); err != nil {
		return nil, err
	}
	// --owner owns the copies, and with --acme-domain also the ACME output;
	// given for neither, Check refuses it.
	if rc.reload.CopyTo != "" || rc.integ.issuer == nil {
		rc.reload.Owner = o
	}
	if err := rc.reload.Check(); err != nil {
		return nil, usageErrorf("%s: %v", c.Command.Name, err)
	}
	if initOnly {
		if c.Args().Present() {
			return nil, usageErrorf("init takes no COMMAND (use run)")
		}
		return rc, nil
	}
	rc.args = c.Args().Slice()
	if len(rc.args) == 0 {
		return nil, usageErrorf("run needs a COMMAND: certinit run [OPTIONS] -- COMMAND [ARGS...]")
	}
	sig, err := supervisor.ParseSignal(c.String("reload-signal"))
	if err != nil {
		return nil, usageErrorf("--reload-signal: %v", err)
	}
	rc.reload.Signal = sig
	rc.reload.RestartOn = c.StringSlice("restart-on")
	rc.watch = c.StringSlice("watch")
	rc.debounce, rc.stopTimeout = c.Duration("debounce"), c.Duration("stop-timeout")
	if rc.poll = c.Duration("poll"); rc.poll == 0 {
		rc.poll = -1 // watch.Options: negative disables
	}
	if rc.debounce <= 0 || rc.stopTimeout <= 0 || rc.poll < -1 {
		return nil, usageErrorf("--debounce and --stop-timeout must be positive, --poll not negative")
	}
	if rc.exec = c.Bool("exec"); rc.exec {
		for _, f := range []string{"watch", "restart-on", "reload-signal", "debounce", "poll", "stop-timeout"} {
			if c.IsSet(f) {
				return nil, usageErrorf("--exec leaves nothing running to watch or signal: --%s cannot be used with it", f)
			}
		}
	}
	return rc, nil
}

// startExit turns a COMMAND start failure into its shell exit code.
func startExit(err error) error {
	var se *supervisor.StartError
	if errors.As(err, &se) {
		return &exitError{code: se.Code, err: err}
	}
	return err
}

// childFiles are COMMAND's stdin, stdout and stderr: certinit's own when
// they are files (always, from main); otherwise (run called in-process by
// tests) pipes copied into the writers. The returned func ends the copies.
func (a *app) childFiles() ([]*os.File, func()) {
	files := []*os.File{os.Stdin}
	var wg sync.WaitGroup
	var closers []*os.File
	for _, w := range []io.Writer{a.stdout, a.stderr} {
		if f, ok := w.(*os.File); ok {
			files = append(files, f)
			continue
		}
		r, pw, err := os.Pipe()
		if err != nil {
			files = append(files, os.Stderr)
			continue
		}
		files = append(files, pw)
		closers = append(closers, pw)
		wg.Go(func() {
			_, _ = io.Copy(w, r)
			r.Close()
		})
	}
	return files, func() {
		for _, f := range closers {
			f.Close()
		}
		wg.Wait()
	}
}
