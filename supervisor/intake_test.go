package supervisor

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// TestSignalIntakeKeepsLast sends this process a burst of one signal and
// then a single one of another kind while nothing reads the intake, as
// when Run's loop is busy forwarding. Both kinds must come out afterwards.
// With one channel shared by all kinds (what os/signal invites), the burst
// fills it and the single signal after it is dropped for good.
func TestSignalIntakeKeepsLast(t *testing.T) {
	// Registered for the rest of the test binary, so that a HUP or USR1
	// arriving after an intake closed can never kill it.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP, syscall.SIGUSR1)

	n := testutil.Scale(2000, 20000)
	for _, tc := range []struct {
		name        string
		burst, last syscall.Signal
	}{
		{"HUP burst then USR1", syscall.SIGHUP, syscall.SIGUSR1},
		{"USR1 burst then HUP", syscall.SIGUSR1, syscall.SIGHUP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newSignalIntake([]syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1})
			defer in.close()
			pid := os.Getpid()
			for range n {
				if err := syscall.Kill(pid, tc.burst); err != nil {
					t.Fatal(err)
				}
			}
			if err := syscall.Kill(pid, tc.last); err != nil {
				t.Fatal(err)
			}
			got := map[syscall.Signal]int{}
			deadline := time.After(10 * time.Second)
			for got[tc.burst] == 0 || got[tc.last] == 0 {
				select {
				case sig := <-in.C:
					got[sig]++
				case <-deadline:
					t.Fatalf("after %d× %s and one %s: received %v; the last signal was lost",
						n, SignalName(tc.burst), SignalName(tc.last), got)
				}
			}
			t.Logf("%d× %s then one %s: %d %s and %d %s came out", n, SignalName(tc.burst), SignalName(tc.last),
				got[tc.burst], SignalName(tc.burst), got[tc.last], SignalName(tc.last))
		})
	}
}
