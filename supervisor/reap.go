package supervisor

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// exit is one reaped process.
type exit struct {
	pid    int
	status syscall.WaitStatus
}

// reaper is the one goroutine that calls Wait4(-1). It reaps every child
// that has exited (the supervised command, orphans reparented to certinit as
// PID 1 or subreaper) and hands each status to the supervisor loop, which
// picks out its own child. Nothing else in the process may wait for
// children: a cmd.Wait racing this loop loses its status (ECHILD), which is
// the bug go-init has and tini avoids.
type reaper struct {
	sigchld chan os.Signal
	exits   chan exit
	stop    chan struct{}
	done    chan struct{}
	lock    *sync.RWMutex
}

// startReaper subscribes to SIGCHLD and starts the reaping goroutine.
// It must be running before the first child starts, so no exit is missed.
func startReaper(lock *sync.RWMutex) *reaper {
	r := &reaper{
		sigchld: make(chan os.Signal, 1),
		exits:   make(chan exit, 16),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		lock:    lock,
	}
	signal.Notify(r.sigchld, syscall.SIGCHLD)
	go r.loop()
	return r
}

func (r *reaper) loop() {
	defer close(r.done)
	for {
		select {
		case <-r.stop:
			return
		case <-r.sigchld:
			// SIGCHLDs coalesce: one notification may stand for many
			// exits, so reap until nothing is left.
			if !r.reapAll() {
				return
			}
		}
	}
}

// reapAll collects every exited child without blocking. It returns false
// when the supervisor stopped while it was handing out a status.
func (r *reaper) reapAll() bool {
	if r.lock != nil {
		r.lock.Lock()
		defer r.lock.Unlock()
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 { // ECHILD: no children; 0: none exited
			return true
		}
		select {
		case r.exits <- exit{pid: pid, status: ws}:
		case <-r.stop:
			return false
		}
	}
}

// close stops the goroutine and the SIGCHLD subscription.
func (r *reaper) close() {
	signal.Stop(r.sigchld)
	close(r.stop)
	<-r.done
}

// becomeSubreaper makes orphaned descendants reparent to this process
// instead of to the real PID 1 (PR_SET_CHILD_SUBREAPER), so the reaper
// collects them when certinit is not PID 1 itself, e.g. under docker
// --init or a shell. PID 1 reaps them by definition.
func becomeSubreaper() error {
	if os.Getpid() == 1 {
		return nil
	}
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}
