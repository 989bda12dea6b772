package testutil

import (
	"math/rand/v2"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// KillAtRandom is the loop of a crash test: n times, it starts the command
// newCmd(i) returns and sends it SIGKILL at a random moment within 1¼ of
// took (how long an uninterrupted run takes), waits for it, and calls
// check(i, at) with the moment of the kill to examine what the run left
// behind. The kill is the experiment, not a synchronisation. It logs the
// seed first and the count of runs killed midway last; the test fails when
// no run was, because then it proved nothing.
func KillAtRandom(t testing.TB, n int, took time.Duration, newCmd func(i int) *exec.Cmd, check func(i int, at time.Duration)) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Logf("random kills: seed %d", seed)
	killed := 0
	for i := range n {
		cmd := newCmd(i)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		at := time.Duration(rng.Int64N(int64(took + took/4 + 1)))
		timer := time.AfterFunc(at, func() { cmd.Process.Signal(syscall.SIGKILL) })
		err := cmd.Wait()
		timer.Stop()
		if err != nil {
			killed++
		}
		check(i, at)
	}
	t.Logf("%d of %d runs were killed before they finished", killed, n)
	if killed == 0 {
		t.Error("no run was killed midway: the test proved nothing")
	}
}
