package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// Stress tests of certinit run with the real binary: many orphans to reap,
// a storm of signals to forward. The sizes are short in `make test` and full
// under `-tags stress`. (runner has the renewals under load.)

// reapedOrphan matches certinit's record of each orphan it reaped.
var reapedOrphan = testutil.Message("reaped orphan")

// supervisorModes are the two ways certinit supervises: as PID 1 of a new
// PID namespace (what a container gives it), or as an ordinary child of
// the test, where it makes itself a child subreaper.
var supervisorModes = []struct {
	name   string
	asPID1 bool
}{
	{"PID 1", true},
	{"subreaper", false},
}

// TestStressReapsOrphans: the child starts a shell that starts many
// sleepers in the background and exits at once, so every sleeper is
// re-parented to certinit. The test then kills them all at once (SIGKILL
// to each), a storm of exits. certinit must reap each one (its debug log
// names every orphan it reaped) and leave no zombie. Then SIGTERM stops
// the child and certinit exits 143.
func TestStressReapsOrphans(t *testing.T) {
	n := testutil.Scale(200, 1000)
	for _, mode := range supervisorModes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			spawned := filepath.Join(dir, "spawned")
			script := fmt.Sprintf(`sh -c 'i=0; while [ $i -lt %d ]; do sleep 3600 & i=$((i+1)); done'
echo > %s
exec sleep 3601`, n, spawned)
			s := testutil.StartCertinit(t, mode.asPID1, "--log-level", "debug", "run", "--", "sh", "-c", script)
			start := time.Now()
			testutil.WaitExists(t, spawned, 120*time.Second) // the orphans are started
			spawnTook := time.Since(start)
			// A sleeper the shell forked may not have exec'd sleep yet
			// (its command line is still the shell's): wait until all have.
			var orphans []int
			testutil.Eventually(t, 60*time.Second, func() (bool, string) {
				orphans = orphans[:0]
				for pid := range testutil.ChildrenOf(s.PID) {
					if cmdline(pid) == "sleep 3600" {
						orphans = append(orphans, pid)
					}
				}
				return len(orphans) == n, fmt.Sprintf("%d of %d orphaned sleepers are children of certinit", len(orphans), n)
			})

			start = time.Now()
			for _, pid := range orphans {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			maxZombies := 0
			var children map[int]testutil.ProcStatus
			testutil.Eventually(t, 120*time.Second, func() (bool, string) {
				children = testutil.ChildrenOf(s.PID)
				z := 0
				for _, st := range children {
					if st.Zombie() {
						z++
					}
				}
				maxZombies = max(maxZombies, z)
				reaped := len(s.Logs.Matching(reapedOrphan))
				return len(children) == 1 && reaped >= n, fmt.Sprintf("%d of %d orphans reaped, %d children left", reaped, n, len(children))
			})
			took := time.Since(start)
			if got := len(s.Logs.Matching(reapedOrphan)); got != n {
				t.Errorf("certinit reaped %d orphans, want %d", got, n)
			}
			for pid, st := range children {
				if st.Zombie() {
					t.Errorf("child %d of certinit is a zombie", pid)
				}
			}
			t.Logf("%d orphans started in %s; all reaped %s after they were killed; at most %d zombies seen at once",
				n, spawnTook.Round(time.Millisecond), took.Round(time.Millisecond), maxZombies)
			if code := s.Stop(); code != 143 {
				t.Fatalf("exit %d after SIGTERM, want 143", code)
			}
		})
	}
}

// cmdline is pid's command line, arguments separated by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// stormScript records each HUP and USR1 it receives, with the marker the
// test wrote before sending it, in the file got. It waits with the wait
// builtin, which a trapped signal interrupts, so traps run at once. On
// TERM it dies of TERM (after stopping its sleeper).
const stormScript = `
dir=%s
rec() { read m < "$dir/marker"; echo "$1 $m" >> "$dir/got"; }
trap 'rec HUP' HUP
trap 'rec USR1' USR1
sleep 3600 & sp=$!
trap 'kill $sp; trap - TERM; kill -TERM $$' TERM
echo > "$dir/ready"
while :; do wait $sp; done`

// TestStressSignalStorm sends certinit thousands of SIGHUP and SIGUSR1,
// interleaved, then in two rounds a burst of one kind followed by a single
// signal of the other. The single signal must reach the child even though
// the burst before it is still being forwarded: it is the last of its kind,
// and losing it would lose a request for good. The child records what it
// receives with the round's marker. Afterwards certinit still runs and
// SIGTERM stops it with 143.
func TestStressSignalStorm(t *testing.T) {
	n := testutil.Scale(500, 5000)
	for _, mode := range supervisorModes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			setMarker(t, dir, "storm")
			s := testutil.StartCertinit(t, mode.asPID1, "--log-level", "debug", "run", "--", "sh", "-c", fmt.Sprintf(stormScript, dir))
			testutil.WaitExists(t, filepath.Join(dir, "ready"), 10*time.Second) // the child's traps are set

			start := time.Now()
			for range n {
				s.Signal(syscall.SIGHUP)
				s.Signal(syscall.SIGUSR1)
			}
			sent := 2 * n
			rounds := []struct {
				marker      string
				burst, last syscall.Signal
				want        string
			}{
				{"r1", syscall.SIGHUP, syscall.SIGUSR1, "USR1 r1"},
				{"r2", syscall.SIGUSR1, syscall.SIGHUP, "HUP r2"},
			}
			for _, r := range rounds {
				setMarker(t, dir, r.marker)
				for range n {
					s.Signal(r.burst)
				}
				s.Signal(r.last)
				sent += n + 1
				testutil.Eventually(t, 15*time.Second, func() (bool, string) {
					return slices.Contains(readLines(filepath.Join(dir, "got")), r.want), fmt.Sprintf("no %q: the last signal of round %s", r.want, r.marker)
				})
			}
			took := time.Since(start)
			got := readLines(filepath.Join(dir, "got"))
			count := map[string]int{}
			for _, l := range got {
				kind, _, _ := strings.Cut(l, " ")
				count[kind]++
			}
			if count["HUP"] == 0 || count["USR1"] == 0 {
				t.Errorf("child received %v", count)
			}
			if s.Exited() {
				t.Fatalf("certinit exited during the storm (code %d)", s.Code())
			}
			forwarded := func(sig string) int {
				return len(s.Logs.Matching(testutil.All(testutil.Message("forwarding signal"), testutil.HasAttr("signal", sig))))
			}
			t.Logf("%d signals sent in %s; certinit forwarded %d HUP and %d USR1, the child's traps ran %d and %d times (the kernel, Go and the shell coalesce pending signals)",
				sent, took.Round(time.Millisecond), forwarded("HUP"), forwarded("USR1"), count["HUP"], count["USR1"])
			if code := s.Stop(); code != 143 {
				t.Fatalf("exit %d after SIGTERM, want 143", code)
			}
			if out := s.Out.String(); strings.Contains(out, "panic") || strings.Contains(out, "fatal error") {
				t.Fatalf("certinit crashed:\n%s", s.Out.Tail(4<<10))
			}
		})
	}
}

// setMarker replaces dir/marker at once (rename), so the child's read
// sees the old or the new marker, never an empty file.
func setMarker(t *testing.T, dir, m string) {
	t.Helper()
	testutil.RenameOver(t, filepath.Join(dir, "marker"), []byte(m+"\n"))
}

func readLines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
