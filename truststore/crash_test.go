package truststore

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/testutil"
)

// TestCrashSafety kills `certinit trust install` of several certificates
// (a hash collision among them) with SIGKILL at random moments, in a
// Debian store (under -tags stress the machine's real Mozilla store when
// the tool is here) and in a dir: store. After every kill:
//   - every link resolves inside the root and the bundle parses;
//   - a CA that was in the store before still verifies with openssl
//     (-CAfile on the bundle, -CApath on the hash directory), so no
//     reader ever saw it missing;
//   - a temporary file left behind is one no reader picks up (hidden,
//     not a hash link name, no certificate extension);
//
// and running the same install again ends in exactly the tree (every
// link, target, mode and bundle byte) a clean run produces, with no
// temporary file left.
func TestCrashSafety(t *testing.T) {
	bin := testutil.BuildCertinit(t)
	openssl := testutil.RequireTool(t, "openssl")
	in := t.TempDir()
	var files []string
	for i, cn := range []string{"Crash Twin", "Crash Twin", "Crash Root C", "Crash Root D", "Crash Root E"} {
		f, _ := writeCA(t, in, fmt.Sprintf("ca%d.pem", i), cn)
		files = append(files, f)
	}
	baseCA, _ := writeCA(t, in, "base.pem", "Crash Base CA")
	for _, spec := range []string{"debian", "dir:/srv/capath"} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			base := t.TempDir()
			_, err := exec.LookPath("update-ca-certificates")
			if spec == "debian" && testutil.Scale(0, 1) == 1 && err == nil && os.Geteuid() == 0 {
				base = stockDebianRoot(t) // a realistic store: 140-odd links to keep right
			} else {
				// Enough links and bundle to keep right, at a fraction of
				// the cost of the stock store in the default run.
				var others []string
				for i := range 25 {
					f, _ := writeCA(t, t.TempDir(), "other.pem", fmt.Sprintf("Crash Other CA %d", i))
					others = append(others, f)
				}
				install(t, openStore(t, base, spec), others...)
			}
			install(t, openStore(t, base, spec), baseCA)
			crashInstall(t, bin, openssl, spec, base, baseCA, files)
		})
	}
}

// crashInstall is TestCrashSafety for one store: installs of files into
// copies of base killed at random, each checked, then run again.
func crashInstall(t *testing.T, bin, openssl, spec, base, baseCA string, files []string) {
	runInstall := func(root string) *exec.Cmd {
		args := append([]string{"trust", "install", "--store", spec, "--root", root}, files...)
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		return cmd
	}
	clean := t.TempDir()
	testutil.CopyTree(t, base, clean)
	start := time.Now()
	if out, err := runInstall(clean).CombinedOutput(); err != nil {
		t.Fatalf("clean install: %v\n%s", err, out)
	}
	took := time.Since(start)
	want := testutil.TreeDigest(t, clean, false)
	t.Logf("clean install took %v", took)

	var root string // the copy of base the current run works on
	testutil.KillAtRandom(t, testutil.Scale(12, 100), took, func(int) *exec.Cmd {
		root = t.TempDir()
		testutil.LinkTree(t, base, root)
		return runInstall(root)
	}, func(i int, at time.Duration) {
		s := openStore(t, root, spec)
		checkConsistent(t, s)
		invisibleTemps(t, root)
		capath, cafile, inNS := storePaths(s)
		verify := [][]string{{"-CAfile", cafile}}
		if !inNS {
			verify = append(verify, []string{"-CApath", capath})
		}
		for _, v := range verify {
			if out, err := runInStore(t, s, inNS, nil, openssl, append(append([]string{"verify"}, v...), baseCA)...); err != nil {
				t.Fatalf("iteration %d (kill at %v): a CA installed before is not found with %s: %v\n%s", i, at, v[0], err, out)
			}
		}
		if out, err := runInstall(root).CombinedOutput(); err != nil {
			t.Fatalf("iteration %d: re-run after kill at %v: %v\n%s", i, at, err, out)
		}
		if got := testutil.TreeDigest(t, root, false); got != want {
			t.Fatalf("iteration %d (kill at %v): re-run differs from a clean run (- clean, + re-run):\n%s", i, at, testutil.DiffLines(want, got))
		}
	})
}

// invisibleTemps fails if a temporary file under root is one a reader of
// the store would pick up: readers skip hidden names, and neither openssl
// (HASH.N, *.pem, *.crt, *.cer, *.crl) nor update-ca-certificates (*.crt)
// would take it for theirs.
func invisibleTemps(t *testing.T, root string) {
	t.Helper()
	for _, p := range testutil.Find(t, root, atomicfile.IsTemp) {
		if name := filepath.Base(p); isHashName(name) || hashlink.IsCandidate(name) {
			t.Errorf("temporary file %s looks like a certificate or hash link to readers", p)
		}
	}
}

// TestConcurrentInstalls starts many `certinit trust install` processes
// of different certificates (some sharing a subject, so hash links
// collide) on one root at once: the lock serialises them, every
// certificate ends up in the store, and neither lock nor temporary files
// remain. At least one process must have waited for another, or the runs
// did not overlap and the test proved nothing.
func TestConcurrentInstalls(t *testing.T) {
	bin := testutil.BuildCertinit(t)
	in := t.TempDir()
	n := testutil.Scale(12, 64)
	for _, spec := range []string{"debian", "dir:/srv/capath", "rhel"} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			want := map[string]bool{}
			cmds := make([]*exec.Cmd, n)
			for i := range n {
				f, ca := writeCA(t, in, fmt.Sprintf("%s-%d.pem", strings.ReplaceAll(spec, "/", "_"), i), fmt.Sprintf("Concurrent CA %d", i%5))
				want[fingerprint(ca.Cert.Raw)] = true
				cmds[i] = exec.Command(bin, "--log-format", "json", "trust", "install", "--root", root, "--store", spec, f)
			}
			outs, errs := runTogether(cmds)
			waited := 0
			for i := range errs {
				if errs[i] != nil {
					t.Errorf("install %d: %v\n%s", i, errs[i], outs[i])
				}
				if waitedForLock(t, outs[i], root) {
					waited++
				}
			}
			t.Logf("%d of %d processes waited for the lock", waited, n)
			if waited == 0 {
				t.Error("no process waited for another: the installs did not overlap")
			}
			s := openStore(t, root, spec)
			list, err := s.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, c := range list {
				got[c.Fingerprint] = true
			}
			for fp := range want {
				if !got[fp] {
					t.Errorf("certificate %s is missing from the store", fp[:16])
				}
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
			before := testutil.TreeDigest(t, root, false)
			if out, err := exec.Command(bin, "trust", "rebuild", "--root", root, "--store", spec).CombinedOutput(); err != nil {
				t.Fatalf("rebuild: %v\n%s", err, out)
			}
			if after := testutil.TreeDigest(t, root, false); after != before {
				t.Errorf("rebuild after concurrent installs changed the store:\n%s", testutil.DiffLines(before, after))
			}
		})
	}
}
