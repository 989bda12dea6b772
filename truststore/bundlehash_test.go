package truststore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestDirBundleNotHashed: in a dir: store the bundle is an output. While it
// holds one certificate openssl rehash would take it for a certificate file
// and give it a hash link of its own (HASH.1 -> ca-certificates.crt, a
// duplicate that turns stale when a second certificate arrives). certinit
// never links it, drops such a link left by someone else, and otherwise
// makes exactly the links openssl rehash makes for the per-certificate
// files.
func TestDirBundleNotHashed(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	in := t.TempDir()
	// "zeta..." sorts after "ca-certificates.crt", the order in which the
	// bundle used to win the first link.
	zeta, _ := writeCA(t, in, "zeta.pem", "zeta capath root")
	alpha, _ := writeCA(t, in, "alpha.pem", "Alpha capath root")
	root := t.TempDir()
	s := openStore(t, root, "dir:/capath")
	dir := filepath.Join(root, "capath")
	check := func(step string) {
		t.Helper()
		got := testutil.Links(t, dir)
		for n, target := range got {
			if target == dirBundleName {
				t.Errorf("%s: %s -> %s: the bundle got a hash link", step, n, target)
			}
		}
		// openssl rehash of the same files without the bundle.
		ref := t.TempDir()
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Type().IsRegular() && e.Name() != dirBundleName {
				data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				testutil.WriteFile(t, ref, e.Name(), data)
			}
		}
		testutil.OpenSSLRehash(t, ref)
		if d := testutil.DiffMaps(testutil.Links(t, ref), got); d != "" {
			t.Errorf("%s: links differ from openssl rehash of the certificate files (- openssl only, + certinit only):\n%s", step, d)
		}
		checkConsistent(t, s)
	}
	install(t, s, zeta)
	check("first install")
	before := testutil.TreeDigest(t, root, false)
	if _, err := s.Rebuild(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	check("rebuild")
	if after := testutil.TreeDigest(t, root, false); after != before {
		t.Errorf("rebuild of a one-certificate store changed it:\n%s", testutil.DiffLines(before, after))
	}
	// A link to the bundle planted by hand (openssl rehash run on the
	// directory) goes at the next operation.
	hash := strings.TrimSuffix(firstKey(testutil.Links(t, dir)), ".0")
	if err := os.Symlink(dirBundleName, filepath.Join(dir, hash+".1")); err != nil {
		t.Fatal(err)
	}
	install(t, s, alpha)
	check("second install")
	if _, err := s.Rebuild(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	check("fresh rebuild")
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// TestDebianBundleHashLikeTool: Debian's update-ca-certificates runs
// openssl rehash in /etc/ssl/certs before it replaces the bundle, so the old
// bundle, when it holds exactly one certificate, is a rehash candidate
// there. certinit's Debian store must do whatever the real tool does with
// it (the contract is equivalence), checked step by step: one local CA,
// then a second. (With ca-certificates 20230311 the second step links the
// first CA's hash to ca-certificates.crt, which sorts before its own file
// and holds the same certificate; certinit does the same on Debian, and
// only there.)
func TestDebianBundleHashLikeTool(t *testing.T) {
	testutil.RequireRoot(t)
	in := t.TempDir()
	zeta, _ := writeCA(t, in, "zeta.pem", "zeta debian root")
	alpha, _ := writeCA(t, in, "alpha.pem", "Alpha debian root")
	root := t.TempDir() // certinit's
	ref := t.TempDir()  // the tool's
	testutil.Mkdir(t, filepath.Join(ref, certsDir))
	s := openStore(t, root, "debian")
	local := "usr/local/share/ca-certificates"
	for step, f := range []string{zeta, alpha} {
		install(t, s, f)
		// The tool gets the same source files certinit wrote.
		os.RemoveAll(filepath.Join(ref, local))
		testutil.CopyTree(t, filepath.Join(root, local), testutil.Mkdir(t, filepath.Join(ref, local)))
		debianTool(t, ref)
		tool, got := testutil.Links(t, filepath.Join(ref, certsDir)), testutil.Links(t, filepath.Join(root, certsDir))
		if d := testutil.DiffMaps(tool, got); d != "" {
			t.Errorf("step %d: links differ from update-ca-certificates' (- tool only, + certinit only):\n%s", step+1, d)
		}
		t.Logf("step %d: %v", step+1, got)
		checkConsistent(t, s)
	}
}
