package testutil

import (
	"testing"
	"time"
)

// pollInterval is how often Eventually looks again.
const pollInterval = 10 * time.Millisecond

// Eventually checks cond until it reports done, and fails the test with
// cond's last explanation when within passes first. It is for state that
// announces no event of its own (a file another process writes, a port a
// broker opens, a process that exits); where an event exists (a log record,
// a channel, a pipe), wait on the event instead.
func Eventually(t testing.TB, within time.Duration, cond func() (done bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		done, why := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, why)
		}
		time.Sleep(pollInterval) // the interval between looks, not a synchronisation
	}
}
