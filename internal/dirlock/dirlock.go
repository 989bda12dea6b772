// Package dirlock is certinit's one directory lock. Every package that
// writes into a directory others may write into at the same time (a hash
// directory, a trust store, an ACME cache, a --copy-to directory) takes it
// with Lock before it reads what it will change, and releases it when its
// writes are done.
//
// The strategy, the only one in certinit:
//   - The lock is an exclusive flock(2) on the directory itself, opened
//     read-only. No lock file appears among the files that OpenSSL, a
//     broker or a person reads, and the kernel drops the lock when its
//     holder dies, so a crashed run never blocks the next one.
//   - Waiting is a non-blocking attempt repeated with backoff (from 1 ms,
//     doubling, at most 100 ms apart) until the lock is free or the context
//     is done. Nothing is left behind when the context ends: no goroutine
//     parked in flock, no descriptor.
//   - Anything but "somebody else holds it" is an error naming the
//     directory: certinit never goes on unlocked.
//
// Two certinit commands that write one directory therefore serialise:
// `certinit rehash DIR` and `certinit trust install --store dir:DIR` both
// lock DIR. A caller that needs several directories locks them in one
// fixed order (see truststore) so that two callers cannot deadlock.
//
// It is not a lock between goroutines of one process (flock locks belong
// to the open file description, so a second Lock from the same process
// waits like any other) and not for files.
package dirlock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"
)

// Backoff bounds of the wait: the first retry comes after minBackoff, each
// next one after twice as long, never more than maxBackoff apart.
const (
	minBackoff = time.Millisecond
	maxBackoff = 100 * time.Millisecond
)

// Lock takes the exclusive lock on dir, waiting until it is free or ctx is
// done. The returned function releases it. While it waits it logs once,
// at info level, that another process holds the lock (log may be nil).
func Lock(ctx context.Context, dir string, log *slog.Logger) (unlock func(), err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	release := func() { unix.Close(fd) } // closing the last descriptor drops the lock
	wait := minBackoff
	var timer *time.Timer
	for logged := false; ; {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return release, nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EWOULDBLOCK):
			release()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		if !logged && log != nil {
			log.Info("waiting for another process that holds the directory's lock", "path", dir)
			logged = true
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			release()
			return nil, fmt.Errorf("lock %s: another process holds it: %w", dir, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, maxBackoff)
	}
}
