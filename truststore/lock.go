package truststore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
)

// lockRoot serialises certinit runs on one root: an exclusive flock(2) on
// the root directory itself. Locking the directory (Linux allows flock on
// a directory descriptor) leaves no lock file behind in the store, and the
// kernel drops the lock when the process dies, so a crashed run never
// blocks the next one. The returned function releases the lock.
func lockRoot(ctx context.Context, dir string, log *slog.Logger) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	fd := int(f.Fd())
	err = flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		log.Info("waiting for another certinit working on the same root", "path", dir)
		done := make(chan error, 1)
		go func() { done <- flock(fd, syscall.LOCK_EX) }()
		select {
		case err = <-done:
		case <-ctx.Done():
			// Closing the descriptor does not interrupt flock; the
			// goroutine ends when the other run releases the lock, and the
			// lock it then takes dies with the descriptor.
			go func() { <-done; f.Close() }()
			return nil, fmt.Errorf("lock %s: %w", dir, ctx.Err())
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		flock(fd, syscall.LOCK_UN)
		f.Close()
	}, nil
}

func flock(fd, how int) error {
	for {
		err := syscall.Flock(fd, how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
