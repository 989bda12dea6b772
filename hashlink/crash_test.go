package hashlink

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/testutil"
)

// TestRehashCrashSafety kills `certinit rehash` with SIGKILL at random
// moments of a run that has real work to do: a directory openssl rehash
// linked earlier, whose certificates have since changed (stale links,
// files that need links, collisions, duplicates). After every kill:
//   - every symlink resolves, and every hash-named entry is a link to one
//     of the certificate files (never a half-made file openssl would read);
//   - a temporary entry left behind is one no reader picks up: it starts
//     with .certinit-tmp-, is not a hash link name and has no extension
//     openssl rehash reads;
//   - no link that was valid before and after was ever missing, and
//     openssl verify -CApath still finds a CA whose link was right all
//     along;
//   - running certinit rehash again ends in exactly the links of an
//     uninterrupted run, with no temporary entry left.
func TestRehashCrashSafety(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	bin := testutil.BuildCertinit(t)
	template, probe := crashTemplate(t, testutil.Scale(600, 3000))
	before := hashLinks(t, template)

	clean := t.TempDir()
	testutil.CopyTree(t, template, clean)
	start := time.Now()
	if out, err := exec.Command(bin, "rehash", clean).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, out)
	}
	took := time.Since(start)
	want := hashLinks(t, clean)
	// Links right before and after the run: these must never go missing.
	var stable []string
	for n, target := range before {
		if want[n] == target {
			stable = append(stable, n)
		}
	}
	if len(stable) < 100 || len(want) == len(stable) {
		t.Fatalf("template gives %d stable links of %d: the run has too little or too much work", len(stable), len(want))
	}
	t.Logf("clean run took %v; %d links before, %d after, %d unchanged", took, len(before), len(want), len(stable))

	var dir string // the copy of the template the current run works on
	testutil.KillAtRandom(t, testutil.Scale(20, 100), took, func(int) *exec.Cmd {
		dir = t.TempDir()
		testutil.CopyTree(t, template, dir)
		return exec.Command(bin, "rehash", dir)
	}, func(i int, at time.Duration) {
		checkRehashDir(t, dir, before)
		got := hashLinks(t, dir)
		for _, n := range stable {
			if got[n] != want[n] {
				t.Fatalf("iteration %d (kill at %v): link %s -> %s, which was right before the run, is %q", i, at, n, want[n], got[n])
			}
		}
		if out, err := exec.Command(openssl, "verify", "-CApath", dir, probe).CombinedOutput(); err != nil {
			t.Fatalf("iteration %d (kill at %v): openssl verify -CApath: %v\n%s", i, at, err, out)
		}
		if out, err := exec.Command(bin, "rehash", dir).CombinedOutput(); err != nil {
			t.Fatalf("iteration %d: re-run: %v\n%s", i, err, out)
		}
		if d := testutil.DiffMaps(want, hashLinks(t, dir)); d != "" {
			t.Fatalf("iteration %d (kill at %v): re-run differs from a clean run (- clean only, + re-run only):\n%s", i, at, d)
		}
		if temps := testutil.Find(t, dir, atomicfile.IsTemp); len(temps) > 0 {
			t.Fatalf("iteration %d: re-run left temporary entries %v", i, temps)
		}
	})
}

// crashTemplate builds the directory the crash test starts from: n
// certificates (some sharing a subject, some duplicated) linked by the real
// openssl rehash, after which a tenth of the files get other certificates
// and a tenth more files arrive. It also returns a copy, outside the
// directory, of a CA whose link in it is right throughout, for openssl
// verify.
func crashTemplate(t *testing.T, n int) (dir, probe string) {
	t.Helper()
	dir = t.TempDir()
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	serial := int64(0)
	cert := func(cn string) []byte { serial++; return certPEM(t, s, cnName(cn), serial) }
	cnFor := func(i int) string {
		if i%50 == 0 {
			return "Shared Subject " + fmt.Sprint(i%7) // collisions
		}
		return fmt.Sprintf("Crash CA %d", i)
	}
	old := n * 9 / 10
	var dup []byte
	for i := range old {
		data := cert(cnFor(i))
		if i == 3 {
			dup = data
		}
		testutil.WriteFile(t, dir, fmt.Sprintf("c%05d.pem", i), data)
	}
	testutil.WriteFile(t, dir, "zz-duplicate.pem", dup)
	ca := testutil.NewCA(t, "Crash Probe CA")
	testutil.WriteFile(t, dir, "probe.pem", testutil.CertPEM(ca.Cert))
	testutil.OpenSSLRehash(t, dir)
	for i := 1; i < old; i += 10 { // changed since the last rehash
		testutil.WriteFile(t, dir, fmt.Sprintf("c%05d.pem", i), cert(fmt.Sprintf("Replaced CA %d", i)))
	}
	for i := old; i < n; i++ { // new since the last rehash
		testutil.WriteFile(t, dir, fmt.Sprintf("c%05d.pem", i), cert(cnFor(i)))
	}
	probe = testutil.WriteFile(t, t.TempDir(), "probe.pem", testutil.CertPEM(ca.Cert))
	return dir, probe
}

// checkRehashDir checks a directory after a killed rehash: every link
// resolves, every hash-named entry is a link to a certificate file that
// was there before, and leftovers are invisible to readers.
func checkRehashDir(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(dir, name)
		if e.Type()&fs.ModeSymlink != 0 {
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("%s: dangling link: %v", name, err)
			}
		}
		switch {
		case atomicfile.IsTemp(name):
			if _, ok := ParseLinkName(name); ok || IsCandidate(name) {
				t.Fatalf("temporary entry %q looks like a file readers use", name)
			}
		case e.Type()&fs.ModeSymlink != 0:
			if _, ok := ParseLinkName(name); !ok {
				t.Fatalf("unexpected link %s", name)
			}
			target, _ := os.Readlink(p)
			if strings.Contains(target, "/") || !IsCandidate(target) {
				t.Fatalf("link %s -> %s", name, target)
			}
		case !e.Type().IsRegular() || !IsCandidate(name):
			t.Fatalf("unexpected entry %s (%v)", name, e.Type())
		}
	}
}

// TestRehashRemovesLeftoverTemps: a temporary link a killed run left is
// removed by the next run; a temporary regular file (another writer's) is
// left alone.
func TestRehashRemovesLeftoverTemps(t *testing.T) {
	dir := t.TempDir()
	h := writeCerts(t, dir, "ca", "Leftover CA")
	link := filepath.Join(dir, atomicfile.TempPrefix+h+".0-4242-1")
	if err := os.Symlink("ca000.pem", link); err != nil {
		t.Fatal(err)
	}
	file := testutil.WriteFile(t, dir, atomicfile.TempPrefix+"bundle.pem-123", []byte("partial"))
	if _, err := Rehash(t.Context(), dir, Options{Log: testutil.Logger(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("temporary link still there: %v", err)
	}
	if _, err := os.Lstat(file); err != nil {
		t.Errorf("another writer's temporary file was removed: %v", err)
	}
	if got := hashLinks(t, dir); got[h+".0"] != "ca000.pem" || len(got) != 1 {
		t.Errorf("links %v", got)
	}
}
