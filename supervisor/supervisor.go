// Package supervisor runs one command as certinit's child, the way an init
// for containers must: it forwards the signals a runtime sends to PID 1
// (never losing the last of each kind, even in a storm), reaps every zombie
// with a single Wait4(-1) loop (as PID 1, or as a child subreaper
// otherwise), gives the child a grace period on SIGTERM/SIGINT before
// SIGKILL, restarts it on request, and returns its exit code (128+N when
// signal N killed it). Exec replaces certinit with the command instead.
//
// It does not decide when to reload or restart: the reload package does,
// through Signal and Restart. Nothing else in a process that runs a
// Supervisor may wait for child processes (os/exec's Wait included) unless
// it holds Options.ReapLock for reading from Start to Wait.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// DefaultStopTimeout is how long a stopping child gets before SIGKILL
// (certinit run --stop-timeout).
const DefaultStopTimeout = 10 * time.Second

// ErrNotRunning is returned by Signal and Restart when Run has returned.
var ErrNotRunning = errors.New("supervisor: command is not running")

// Options describe the command and how to run it.
type Options struct {
	Args        []string      // COMMAND and its arguments; Args[0] is looked up in PATH
	Env         []string      // nil: certinit's environment
	Dir         string        // working directory; empty: certinit's
	Files       []*os.File    // stdin, stdout, stderr; nil: certinit's own
	StopTimeout time.Duration // grace period before SIGKILL; zero: DefaultStopTimeout
	// ReapLock, when set, is held for writing around each reaping pass.
	// Code that runs its own subprocesses while the supervisor runs holds
	// it for reading from Start to Wait, so the reaper cannot steal the
	// exit status (hashicorp/go-reap's pattern).
	ReapLock *sync.RWMutex
	Log      *slog.Logger
}

// Supervisor runs a command. Create it with New, call Run once; Signal and
// Restart may be called from any goroutine while Run runs.
type Supervisor struct {
	opts     Options
	path     string
	log      *slog.Logger
	reqs     chan request
	done     chan struct{}
	started  func()                    // see AfterStart
	redirect map[syscall.Signal]func() // see Redirect
	notify   func(running bool)        // see Notify
}

// AfterStart makes Run call f, on its own goroutine, once the command has
// first started: for work that should not delay that start (f should only
// start goroutines). Call it before Run.
func (s *Supervisor) AfterStart(f func()) { s.started = f }

// Notify makes Run call f each time the command starts (true) and exits
// (false), restarts included, for a caller that reports whether it runs
// (certinit run's metrics). f runs on Run's goroutine and must not block.
// Call it before Run.
func (s *Supervisor) Notify(f func(running bool)) { s.notify = f }

// Redirect makes Run call f instead of forwarding sig each time certinit
// receives it, for a caller that sends sig to the child itself (through
// Signal) in step with its own use of it: certinit run's reloader, for the
// reload signal. f must not block. SIGTERM and SIGINT, which stop the
// child, are always forwarded. Call it before Run.
func (s *Supervisor) Redirect(sig syscall.Signal, f func()) {
	if stopSignals[sig] {
		return
	}
	if s.redirect == nil {
		s.redirect = map[syscall.Signal]func(){}
	}
	s.redirect[sig] = f
}

type request struct {
	restart bool
	sig     syscall.Signal
	reply   chan error
}

// New checks that the command can be found, so a typo fails before any
// preparation side effects are undone or repeated; the error is a
// *StartError carrying 127 or 126.
func New(opts Options) (*Supervisor, error) {
	if len(opts.Args) == 0 {
		return nil, &StartError{Name: `""`, Code: CodeNotFound, Err: errors.New("no command given")}
	}
	path, err := LookPath(opts.Args[0])
	if err != nil {
		return nil, err
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Files == nil {
		opts.Files = []*os.File{os.Stdin, os.Stdout, os.Stderr}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{opts: opts, path: path, log: log, reqs: make(chan request), done: make(chan struct{})}, nil
}

// Signal sends sig to the running child (the reload signal). During a
// restart it does nothing: the new child loads the new files anyway.
func (s *Supervisor) Signal(sig syscall.Signal) error {
	return s.request(request{sig: sig})
}

// Restart stops the child gracefully (SIGTERM, then SIGKILL after the stop
// timeout) and starts the command again. It returns once the stop is under
// way; Run keeps running across the restart.
func (s *Supervisor) Restart() error {
	return s.request(request{restart: true})
}

func (s *Supervisor) request(r request) error {
	r.reply = make(chan error, 1)
	select {
	case s.reqs <- r:
		return <-r.reply
	case <-s.done:
		return ErrNotRunning
	}
}

type state int

const (
	running state = iota
	restarting
	stopping
)

// Run starts the command and supervises it until it exits for good, and
// returns its exit code. Cancelling ctx stops the child as SIGTERM would.
// A command that cannot start gives a *StartError and its code (126/127).
func (s *Supervisor) Run(ctx context.Context) (int, error) {
	defer close(s.done)
	sigs := newSignalIntake(forwarded)
	defer sigs.close()
	if err := becomeSubreaper(); err != nil {
		s.log.Warn("cannot become child subreaper; orphans are left to PID 1", "err", err)
	}
	r := startReaper(s.opts.ReapLock)
	defer r.close()

	child, err := s.start()
	if err != nil {
		return startCode(err), err
	}
	if s.started != nil {
		s.started()
	}
	defer func() {
		if child != nil {
			child.Release()
		}
	}()

	st := running
	kill := time.NewTimer(time.Hour)
	kill.Stop()
	defer kill.Stop()
	stopChild := func(next state, why string) {
		st = next
		s.log.Info(why, "pid", child.Pid, "timeout", s.opts.StopTimeout)
		s.send(child, syscall.SIGTERM)
		kill.Reset(s.opts.StopTimeout)
	}
	ctxDone := ctx.Done()
	for {
		select {
		case sys := <-sigs.C:
			if f := s.redirect[sys]; f != nil {
				f()
				continue
			}
			s.log.Debug("forwarding signal", "signal", SignalName(sys), "pid", child.Pid)
			s.send(child, sys)
			if stopSignals[sys] && st != stopping {
				st = stopping
				kill.Reset(s.opts.StopTimeout)
			}
		case <-ctxDone:
			ctxDone = nil
			if st != stopping {
				stopChild(stopping, "stopping")
			}
		case req := <-s.reqs:
			req.reply <- s.handle(req, child, st, stopChild)
		case <-kill.C:
			s.log.Warn("child did not stop in time, killing", "pid", child.Pid, "timeout", s.opts.StopTimeout)
			s.send(child, syscall.SIGKILL)
		case ex := <-r.exits:
			if ex.pid != child.Pid {
				s.log.Debug("reaped orphan", "pid", ex.pid, "code", ExitCode(ex.status))
				continue
			}
			code := ExitCode(ex.status)
			if s.notify != nil {
				s.notify(false)
			}
			if st != restarting {
				s.log.Info("child exited", "pid", ex.pid, "code", code)
				return code, nil
			}
			kill.Stop()
			s.log.Info("child stopped for restart", "pid", ex.pid, "code", code)
			child.Release()
			if child, err = s.start(); err != nil {
				return startCode(err), err
			}
			st = running
		}
	}
}

// handle serves a Signal or Restart request inside Run's loop, which alone
// owns the child and its state.
func (s *Supervisor) handle(req request, child *os.Process, st state, stopChild func(state, string)) error {
	switch {
	case st == stopping:
		return errors.New("supervisor: command is stopping")
	case st == restarting:
		return nil // the new child will read everything afresh
	case req.restart:
		stopChild(restarting, "restarting")
		return nil
	default:
		s.log.Debug("sending signal", "signal", SignalName(req.sig), "pid", child.Pid)
		return s.send(child, req.sig)
	}
}

func (s *Supervisor) start() (*os.Process, error) {
	p, err := os.StartProcess(s.path, s.opts.Args, &os.ProcAttr{
		Dir:   s.opts.Dir,
		Env:   s.opts.Env,
		Files: s.opts.Files,
	})
	if err != nil {
		return nil, startError(s.opts.Args[0], s.path, s.opts.Dir, err)
	}
	s.log.Info("child started", "pid", p.Pid, "command", s.opts.Args[0])
	if s.notify != nil {
		s.notify(true)
	}
	return p, nil
}

// send signals the child. os.Process signals through a pidfd, so a child
// that the reaper already collected is never confused with a new process
// that reused its PID; that case is not an error.
func (s *Supervisor) send(p *os.Process, sig syscall.Signal) error {
	err := p.Signal(sig)
	if err == nil || errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return fmt.Errorf("signal %s to pid %d: %w", SignalName(sig), p.Pid, err)
}

func startCode(err error) int {
	var se *StartError
	if errors.As(err, &se) {
		return se.Code
	}
	return CodeNotExecutable
}
