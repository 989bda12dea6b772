package truststore

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
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
			rep := install(t, openStore(t, root, tc.spec), ca)
			if len(rep.Added) != 0 || len(rep.Present) != 1 || rep.Present[0].Name == "" {
				t.Fatalf("second install: added %d, present %v; want the certificate present", len(rep.Added), rep.Present)
			}
			if len(rep.LinksCreated)+len(rep.LinksRemoved) > 0 {
				t.Errorf("second install changed links: created %v, removed %v", rep.LinksCreated, rep.LinksRemoved)
			}
			after := inodes(t, root, s.layout.managedDirs())
			if d := diffMaps(before, after); d != "" {
				t.Errorf("second install rewrote entries (name: inode before / after):\n%s", d)
			}
		})
	}
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
