package testutil

import (
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// WaitOpened waits until readers have opened the FIFO at path n times
// (counted from the call) and fails the test if that takes longer than
// within. It opens the FIFO for writing n times: each open returns when a
// reader opens the FIFO, however briefly. A test uses it to know that a
// program has looked at a FIFO it must not read, and looked again.
func WaitOpened(t testing.TB, path string, n int, within time.Duration) {
	t.Helper()
	var stop atomic.Bool
	done := make(chan error, 1)
	go func() {
		for range n {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				done <- err
				return
			}
			f.Close()
			if stop.Load() {
				break
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(within):
		// Release the writer's pending open with a reader of our own.
		stop.Store(true)
		if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-done
			f.Close()
		}
		t.Fatalf("%s: not opened %d times within %v", path, n, within)
	}
}
