package truststore

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/testutil"
)

// TestReinstallWritesNothing: installing a certificate that is already in
// the store (certinit run restarting) replaces no file and no link: every
// entry of the managed directories keeps its inode, which an atomic
// rewrite (temporary file, rename) would change.
func TestReinstallWritesNothing(t *testing.T) {
	in := t.TempDir()
	ca, _ := writeCA(t, in, "ca.pem", "Reinstall Root CA")
	for _, tc := range []struct{ name, spec string }{
		{"debian", "debian"},
		{"dir", "dir:/capath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root string
			if tc.spec == "debian" {
				root = stockDebianRoot(t)
			} else {
				root = t.TempDir()
			}
			s := openStore(t, root, tc.spec)
			if rep := install(t, s, ca); len(rep.Added) != 1 {
				t.Fatalf("first install: added %d, want 1", len(rep.Added))
			}
			before := inodes(t, root, s.layout.managedDirs())
			mtimes := dirMtimes(t, root, s.layout.managedDirs())
			rep := install(t, openStore(t, root, tc.spec), ca)
			if len(rep.Added) != 0 || len(rep.Present) != 1 || rep.Present[0].Name == "" {
				t.Fatalf("second install: added %d, present %v; want the certificate present", len(rep.Added), rep.Present)
			}
			if len(rep.LinksCreated)+len(rep.LinksRemoved) > 0 {
				t.Errorf("second install changed links: created %v, removed %v", rep.LinksCreated, rep.LinksRemoved)
			}
			after := inodes(t, root, s.layout.managedDirs())
			if d := testutil.DiffMaps(before, after); d != "" {
				t.Errorf("second install rewrote entries (name: inode before / after):\n%s", d)
			}
			// Not even a temporary file came and went (an overlayfs
			// copy-up, an inotify event for whoever watches).
			if d := testutil.DiffMaps(mtimes, dirMtimes(t, root, s.layout.managedDirs())); d != "" {
				t.Errorf("second install wrote in directories (dir: mtime before / after):\n%s", d)
			}
		})
	}
}

// dirMtimes maps each existing in-root directory of dirs to its mtime.
func dirMtimes(t *testing.T, root string, dirs []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Join(root, d)); err == nil {
			out[d] = fi.ModTime().String()
		}
	}
	return out
}

// inodes maps every entry of the in-root directories dirs to its inode.
func inodes(t *testing.T, root string, dirs []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range dirs {
		hd := filepath.Join(root, d)
		ents, err := os.ReadDir(hd)
		if err != nil {
			continue
		}
		for _, e := range ents {
			fi, err := os.Lstat(filepath.Join(hd, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Join(d, e.Name())] = strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10)
		}
	}
	return out
}

// TestInstallPartlyPresent: a file holding a certificate already in the
// store and a new one adds the new one only, reports the other present,
// leaves no temporary file behind and a consistent store.
func TestInstallPartlyPresent(t *testing.T) {
	in := t.TempDir()
	a, caA := writeCA(t, in, "a.pem", "Partly Root A")
	_, caB := writeCA(t, in, "b.pem", "Partly Root B")
	both := testutil.WriteFile(t, in, "both.pem", testutil.CertPEM(caA.Cert, caB.Cert))
	root := stockDebianRoot(t)
	install(t, openStore(t, root, "debian"), a)
	s := openStore(t, root, "debian")
	rep := install(t, s, both)
	if len(rep.Added) != 1 || len(rep.Present) != 1 || !strings.HasPrefix(rep.Added[0].Subject, "CN=Partly Root B") {
		t.Fatalf("added %v, present %v; want B added and A present", rep.Added, rep.Present)
	}
	noTemps(t, root)
	checkConsistent(t, s)
}

// TestInstallRemovesCrashTemps: an install removes the temporary files a
// crashed run left in the links directory (removed while it is read) and
// in the local directory, and leaves a directory of that name alone.
func TestInstallRemovesCrashTemps(t *testing.T) {
	in := t.TempDir()
	f, _ := writeCA(t, in, "ca.pem", "Temps Root")
	root := stockDebianRoot(t)
	certs := filepath.Join(root, certsDir)
	local := filepath.Join(root, "usr/local/share/ca-certificates")
	testutil.Mkdir(t, local)
	planted := []string{
		testutil.WriteFile(t, certs, atomicfile.TempPrefix+"ca-certificates.crt-1", []byte("half a bundle")),
		testutil.WriteFile(t, local, atomicfile.TempPrefix+"old.crt-2", []byte("half a certificate")),
	}
	keepDir := filepath.Join(certs, atomicfile.TempPrefix+"dir")
	testutil.Mkdir(t, keepDir)
	s := openStore(t, root, "debian")
	install(t, s, f)
	for _, p := range planted {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", p, err)
		}
	}
	if _, err := os.Stat(keepDir); err != nil {
		t.Errorf("a directory with the temporary prefix was removed: %v", err)
	}
	checkConsistent(t, s)
}
