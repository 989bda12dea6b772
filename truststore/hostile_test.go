package truststore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// Hostile input for certinit trust: every case gets a clear error or a
// bounded, correct result, nothing outside the managed directories is
// touched (a snapshot of the outside is compared), and the store stays
// consistent.

// hostileOutside makes a directory outside the root with a certificate and
// a victim file for planted links to point at.
func hostileOutside(t *testing.T) (dir string, victim string) {
	t.Helper()
	dir = t.TempDir()
	writeCA(t, dir, "outside.pem", "Outside CA")
	victim = testutil.WriteFile(t, dir, "victim.txt", []byte("must stay as it is\n"))
	testutil.Mkdir(t, filepath.Join(dir, "subdir"))
	return dir, victim
}

// verifyCApath runs openssl verify -CApath on a dir: store (relative links,
// so the host's openssl reads it as it is).
func verifyCApath(t *testing.T, dir, cert string) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	if out, err := exec.Command(openssl, "verify", "-CApath", dir, cert).CombinedOutput(); err != nil {
		t.Errorf("openssl verify -CApath %s %s: %v\n%s", dir, cert, err, out)
	}
}

// TestPlantedLinksInStore plants symlinks in the directories certinit
// manages — to files and directories outside the root, to system files,
// in loops, to themselves, dangling, and a link to a directory loop in
// Debian's local directory — and installs a CA. The install succeeds,
// the planted links that lead nowhere are gone (as update-ca-certificates
// removes orphan links), every remaining link resolves inside the root,
// openssl finds the new CA, and nothing outside changed.
func TestPlantedLinksInStore(t *testing.T) {
	outside, victim := hostileOutside(t)
	in := t.TempDir()
	f, _ := writeCA(t, in, "new.pem", "Planted Links CA")
	for _, tc := range []struct {
		spec  string
		dir   string // where links are planted
		extra map[string]string
	}{
		{"dir:/capath", "capath", nil},
		{"debian", "etc/ssl/certs", map[string]string{
			"usr/local/share/ca-certificates/loop":        "..",
			"usr/local/share/ca-certificates/self":        ".",
			"usr/local/share/ca-certificates/a.crt":       "b.crt",
			"usr/local/share/ca-certificates/b.crt":       "a.crt",
			"usr/local/share/ca-certificates/outside.crt": filepath.Join(outside, "outside.pem"),
		}},
	} {
		t.Run(strings.ReplaceAll(tc.spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			s := openStore(t, root, tc.spec)
			install(t, s, testutil.WriteFile(t, in, "first.pem", testutil.CertPEM(testutil.NewCA(t, "First CA").Cert)))
			d := filepath.Join(root, tc.dir)
			planted := map[string]string{
				"evil.pem":     filepath.Join(outside, "outside.pem"),
				"up.pem":       "../../../../../../../../" + strings.TrimPrefix(victim, "/"),
				"abcdef01.0":   victim,
				"abcdef02.0":   filepath.Join(outside, "subdir"),
				"loop1.pem":    "loop2.pem",
				"loop2.pem":    "loop1.pem",
				"self.crt":     "self.crt",
				"dangling.pem": "gone.pem",
				"subdir.pem":   filepath.Join(outside, "subdir"),
			}
			for name, target := range planted {
				testutil.Symlink(t, target, filepath.Join(d, name))
			}
			for name, target := range tc.extra {
				testutil.Symlink(t, target, filepath.Join(root, name))
			}
			before := testutil.TreeDigest(t, outside, false)
			rep, err := s.Install(context.Background(), []string{f}, InstallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Added) != 1 {
				t.Fatalf("added %d", len(rep.Added))
			}
			// Links planted among Debian's sources are the
			// administrator's: left as they are, and left out of the
			// consistency check (which walks the whole root).
			for name := range tc.extra {
				os.Remove(filepath.Join(root, name))
			}
			checkConsistent(t, s)
			for name := range planted {
				if _, err := os.Lstat(filepath.Join(d, name)); err == nil && !s.root.isFile(path2root(tc.dir, name)) {
					t.Errorf("planted link %s leads nowhere and was kept", name)
				}
			}
			// A link out of the root leads, inside it, nowhere: only the
			// two installed CAs are in.
			if got := bundleCerts(t, s.BundlePath()); len(got) != 2 {
				t.Errorf("bundle holds %d certificates, want the 2 installed", len(got))
			}
			if tc.spec == "debian" {
				// The directory loops in the local directory are entered
				// once (as find -L does): each certificate has one
				// NAME.pem link and one copy in the bundle.
				count := 0
				for n := range testutil.Links(t, d) {
					if strings.HasSuffix(n, ".pem") {
						count++
					}
				}
				if count != 2 {
					t.Errorf("%d NAME.pem links, want 2: %v", count, testutil.Links(t, d))
				}
			} else {
				verifyCApath(t, d, f)
			}
			if after := testutil.TreeDigest(t, outside, false); after != before {
				t.Errorf("files outside the root changed:\n%s", testutil.DiffLines(before, after))
			}
		})
	}
}

func path2root(dir, name string) string { return "/" + dir + "/" + name }

// TestPlantedBundleLink: a symlink planted where the bundle goes is
// refused before anything is written (certinit does not write through
// links): one error naming the bundle, the whole tree unchanged, the
// victim untouched.
func TestPlantedBundleLink(t *testing.T) {
	outside, victim := hostileOutside(t)
	in := t.TempDir()
	f, _ := writeCA(t, in, "new.pem", "Bundle Link CA")
	for _, spec := range []string{"debian", "dir:/capath", "rhel"} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			s := openStore(t, root, spec)
			testutil.Symlink(t, victim, s.BundlePath())
			before, outBefore := testutil.TreeDigest(t, root, false), testutil.TreeDigest(t, outside, false)
			_, err := s.Install(context.Background(), []string{f}, InstallOptions{})
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), s.layout.Bundle) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("error %v: want one line naming %s", err, s.layout.Bundle)
			}
			if after := testutil.TreeDigest(t, root, false); after != before {
				t.Errorf("store changed:\n%s", testutil.DiffLines(before, after))
			}
			if after := testutil.TreeDigest(t, outside, false); after != outBefore {
				t.Errorf("outside changed:\n%s", testutil.DiffLines(outBefore, after))
			}
		})
	}
}

// TestHostileFileNames: input files and files already in the store whose
// names carry newlines and shell metacharacters. Nothing is executed (no
// PWNED file appears), installs work, and a dir: store gets exactly the
// hash links openssl rehash gives its certificate files. In a Debian store,
// for the names Debian's own script reads correctly (spaces, parentheses,
// commas, quotes, $, `, ;, *, |, UTF-8), certinit's links and bundle are
// exactly update-ca-certificates'; names that script mangles (newline,
// backslash, leading blanks: it reads them with `read` without -r) are
// taken literally, and the store stays consistent.
func TestHostileFileNames(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	in := t.TempDir()
	var inputs []string
	for i, name := range []string{"$(touch PWNED).pem", "`touch PWNED`\n.pem", "; touch PWNED;.crt", "-rf.pem", "a b (c),d.pem"} {
		f, _ := writeCA(t, in, name, fmt.Sprintf("Hostile Input %d", i))
		inputs = append(inputs, f)
	}
	toolSafe := []string{"sp ace.crt", "paren(1).crt", "com,ma.crt", "quote'\"q.crt", "dollar$(touch PWNED).crt",
		"tick`touch PWNED`.crt", "semi;colon.crt", "star*.crt", "pipe|gt>.crt", "é-utf8.crt", "-dash.crt"}
	mangled := []string{"new\nline.crt", "back\\slash.crt", " lead.crt"}

	t.Run("dir", func(t *testing.T) {
		root := t.TempDir()
		s := openStore(t, root, "dir:/capath")
		d := testutil.Mkdir(t, filepath.Join(root, "capath"))
		for i, name := range append(append([]string{}, toolSafe...), mangled...) {
			writeCA(t, d, strings.TrimSuffix(name, ".crt")+".pem", fmt.Sprintf("Hostile Name %d", i%4))
		}
		install(t, s, inputs...)
		checkConsistent(t, s)
		if n := len(bundleCerts(t, s.BundlePath())); n != len(toolSafe)+len(mangled)+len(inputs) {
			t.Errorf("bundle holds %d certificates", n)
		}
		ref := t.TempDir()
		testutil.CopyTree(t, d, ref)
		for n := range testutil.Links(t, ref) {
			os.Remove(filepath.Join(ref, n))
		}
		os.Remove(filepath.Join(ref, dirBundleName))
		testutil.OpenSSLRehash(t, ref)
		if diff := testutil.DiffMaps(testutil.Links(t, ref), testutil.Links(t, d)); diff != "" {
			t.Errorf("links differ from openssl rehash (- openssl only, + certinit only):\n%s", diff)
		}
	})
	t.Run("debian", func(t *testing.T) {
		testutil.RequireRoot(t)
		root := t.TempDir()
		// A conf file that is not empty, so that neither tool runs in
		// --fresh mode (where the real one reports every link as added).
		conf := []byte("# hostile names test\n")
		testutil.WriteFile(t, root, "etc/ca-certificates.conf", conf)
		local := testutil.Mkdir(t, filepath.Join(root, "usr/local/share/ca-certificates"))
		for i, name := range toolSafe {
			writeCA(t, local, name, fmt.Sprintf("Debian Hostile %d", i%4))
		}
		s := openStore(t, root, "debian")
		install(t, s, inputs...)
		checkConsistent(t, s)
		base := t.TempDir()
		testutil.Mkdir(t, filepath.Join(base, certsDir))
		testutil.WriteFile(t, base, "etc/ca-certificates.conf", conf)
		sameAsTool(t, base, root)
		toolAgrees(t, root)
		for i, name := range mangled {
			writeCA(t, local, name, fmt.Sprintf("Mangled %d", i))
		}
		if _, err := s.Rebuild(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, s)
		if n := len(bundleCerts(t, s.BundlePath())); n != len(toolSafe)+len(mangled)+len(inputs) {
			t.Errorf("bundle holds %d certificates", n)
		}
	})
	for _, d := range []string{work, in} {
		if _, err := os.Stat(filepath.Join(d, "PWNED")); err == nil {
			t.Fatalf("a file name was executed: %s/PWNED exists", d)
		}
	}
}
