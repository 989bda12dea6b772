package truststore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// crashIterations is how many times TestCrashSafety kills an install.
const crashIterations = 30

// TestCrashSafety kills `certinit trust install` of several certificates
// with SIGKILL at random moments. Every time, the store must be consistent
// (every link resolves inside the root, the bundle parses), and running the
// same install again must end in exactly the tree a clean run produces.
func TestCrashSafety(t *testing.T) {
	bin := testutil.BuildCertinit(t)
	in := t.TempDir()
	var files []string
	for i, cn := range []string{"Crash Twin", "Crash Twin", "Crash Root C", "Crash Root D", "Crash Root E"} {
		f, _ := writeCA(t, in, fmt.Sprintf("ca%d.pem", i), cn)
		files = append(files, f)
	}
	base := t.TempDir()
	if _, err := exec.LookPath("update-ca-certificates"); err == nil && os.Geteuid() == 0 {
		base = stockDebianRoot(t) // a realistic store: 140-odd links to keep right
	}
	args := append([]string{"trust", "install", "--store", "debian", "--root"}, "")
	runInstall := func(root string) *exec.Cmd {
		a := append(append([]string{}, args...), files...)
		a[5] = root
		cmd := exec.Command(bin, a...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		return cmd
	}

	clean := t.TempDir()
	copyTree(t, base, clean)
	start := time.Now()
	if out, err := runInstall(clean).CombinedOutput(); err != nil {
		t.Fatalf("clean install: %v\n%s", err, out)
	}
	took := time.Since(start)
	want := treeDigest(t, clean)
	t.Logf("clean install took %v", took)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	killedMidway := 0
	for i := 0; i < crashIterations; i++ {
		root := t.TempDir()
		linkTree(t, base, root)
		cmd := runInstall(root)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A random point in the run: the kill is the experiment, not a
		// synchronisation.
		delay := time.Duration(rng.Int64N(int64(took + took/4)))
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		err := cmd.Wait()
		timer.Stop()
		if err != nil {
			killedMidway++
		}
		s := openStore(t, root, "debian")
		checkConsistent(t, s)
		if out, err := runInstall(root).CombinedOutput(); err != nil {
			t.Fatalf("iteration %d: re-run after kill at %v: %v\n%s", i, delay, err, out)
		}
		if got := treeDigest(t, root); got != want {
			t.Fatalf("iteration %d (kill at %v): re-run differs from a clean run:\n%s", i, delay, diffLines(want, got))
		}
	}
	t.Logf("%d of %d runs were killed before they finished", killedMidway, crashIterations)
	if killedMidway == 0 {
		t.Error("no run was killed midway: the test proved nothing")
	}
}

// diffLines shows lines only in a (-) or only in b (+).
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestConcurrentInstalls runs several installs of different certificates
// on one root at once: the lock serialises them, every certificate ends up
// in the store, and neither lock nor temporary files remain.
func TestConcurrentInstalls(t *testing.T) {
	bin := testutil.BuildCertinit(t)
	in := t.TempDir()
	for _, spec := range []string{"debian", "dir:/srv/capath", "rhel"} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			const n = 6
			var wg sync.WaitGroup
			errs := make([]error, n)
			outs := make([][]byte, n)
			for i := 0; i < n; i++ {
				f, _ := writeCA(t, in, fmt.Sprintf("%s-%d.pem", strings.ReplaceAll(spec, "/", "_"), i), fmt.Sprintf("Concurrent CA %d", i%3))
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[i], errs[i] = exec.Command(bin, "trust", "install", "--root", root, "--store", spec, f).CombinedOutput()
				}()
			}
			wg.Wait()
			for i := range errs {
				if errs[i] != nil {
					t.Errorf("install %d: %v\n%s", i, errs[i], outs[i])
				}
			}
			s := openStore(t, root, spec)
			list, err := s.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != n {
				t.Errorf("store holds %d certificates, want %d", len(list), n)
			}
			if got := bundleCerts(t, s.BundlePath()); len(got) != n {
				t.Errorf("bundle holds %d certificates, want %d", len(got), n)
			}
			checkConsistent(t, s)
			noTemps(t, root)
			// One more run changes nothing: the concurrent result is final.
			before := treeDigest(t, root)
			if out, err := exec.Command(bin, "trust", "rebuild", "--root", root, "--store", spec).CombinedOutput(); err != nil {
				t.Fatalf("rebuild: %v\n%s", err, out)
			}
			if after := treeDigest(t, root); after != before {
				t.Errorf("rebuild after concurrent installs changed the store:\n%s", diffLines(before, after))
			}
		})
	}
}
