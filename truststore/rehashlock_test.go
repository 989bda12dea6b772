package truststore

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestRehashBesideInstall runs `certinit rehash DIR` and `certinit trust
// install --store dir:DIR` on the same directory at the same moment, many
// times (real processes of the built binary). Before each round a hash
// link is pointed wrong, so that both re-point it through a temporary
// link, which the other, were it not waiting, would take for a crashed
// run's and remove. Both lock DIR, so they take turns: rehash never fails,
// every install succeeds, and after each round the directory holds
// exactly the links openssl rehash leaves there. At least one process
// must have waited for the other, or the runs did not overlap and the
// test proved nothing.
func TestRehashBesideInstall(t *testing.T) {
	bin := testutil.BuildCertinit(t)
	testutil.RequireTool(t, "openssl")
	root := t.TempDir()
	dir := filepath.Join(root, "capath")
	in := t.TempDir()
	// Subjects shared by several CAs, so that links are numbered.
	seed, _ := writeCA(t, in, "seed-a.pem", "Turns CA 0")
	seed2, _ := writeCA(t, in, "seed-b.pem", "Turns CA 0")
	install(t, openStore(t, root, "dir:/capath"), seed, seed2)
	var h string
	for name := range testutil.Links(t, dir) {
		h = name[:8]
	}
	rounds := testutil.Scale(30, 150)
	waited := 0
	for i := range rounds {
		f, _ := writeCA(t, in, fmt.Sprintf("ca%d.pem", i), fmt.Sprintf("Turns CA %d", i%3))
		// HASH.1 to HASH.0's file: a second link to it, which both
		// tools point back at the second file.
		target, err := os.Readlink(filepath.Join(dir, h+".0"))
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "wrong")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, h+".1")); err != nil {
			t.Fatal(err)
		}
		cmds := []*exec.Cmd{
			exec.Command(bin, "--log-format", "json", "trust", "install", "--root", root, "--store", "dir:/capath", f),
			exec.Command(bin, "--log-format", "json", "rehash", dir),
		}
		outs, errs := runTogether(cmds)
		for j := range cmds {
			if errs[j] != nil {
				t.Fatalf("round %d: %v: %v\n%s", i, cmds[j].Args[3:], errs[j], outs[j])
			}
			if waitedForLock(t, outs[j], dir) {
				waited++
			}
		}
		ref := t.TempDir()
		testutil.CopyTree(t, dir, ref)
		testutil.OpenSSLRehash(t, ref)
		if d := testutil.DiffMaps(testutil.Links(t, ref), testutil.Links(t, dir)); d != "" {
			t.Fatalf("round %d: links differ from openssl rehash's (- openssl only, + certinit only):\n%s", i, d)
		}
	}
	t.Logf("%d of %d processes waited for the directory's lock", waited, 2*rounds)
	if waited == 0 {
		t.Error("no process waited for another: rehash and install did not overlap")
	}
	noTemps(t, root)
}
