package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The renewals below replay, step by step, what the real tools do to the
// file system, so a watcher under test sees the same sequence of events.

// CertbotKinds are the four files of a certbot lineage, in the order
// certbot's storage.RenewableCert.update_all_links_to updates their links.
var CertbotKinds = []string{"cert", "privkey", "chain", "fullchain"}

// CertbotRenew writes version n of lineage name under root as `certbot
// renew` does: new files archive/NAME/KINDn.pem first, then each
// live/NAME/KIND.pem link replaced in turn with unlink + symlink (a
// relative target), so between two steps the live pair does not match.
// files maps a kind to its content; kinds not given are left alone. It
// returns the live directory.
func CertbotRenew(t testing.TB, root, name string, n int, files map[string][]byte) string {
	t.Helper()
	archive := filepath.Join(root, "archive", name)
	live := filepath.Join(root, "live", name)
	for _, d := range []string{archive, live} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range CertbotKinds {
		if data, ok := files[k]; ok {
			WriteFile(t, archive, k+strconv.Itoa(n)+".pem", data)
		}
	}
	for _, k := range CertbotKinds {
		if _, ok := files[k]; !ok {
			continue
		}
		link := filepath.Join(live, k+".pem")
		if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "archive", name, k+strconv.Itoa(n)+".pem"), link); err != nil {
			t.Fatal(err)
		}
	}
	return live
}

// KubeSwap updates a Kubernetes Secret or ConfigMap volume in dir as the
// kubelet's AtomicWriter does: write the files into a new directory named
// stamp, point a fresh ..data_tmp link at it and rename that over ..data,
// create the user-visible links (NAME -> ..data/NAME) if missing, and
// remove the previous timestamped directory.
func KubeSwap(t testing.TB, dir, stamp string, files map[string][]byte) {
	t.Helper()
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	for name, data := range files {
		WriteFile(t, filepath.Join(dir, stamp), name, data)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(stamp, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" && old != stamp {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// RenameOver replaces path with data by writing a temporary file beside it
// and renaming it over, as most tools that write atomically do.
func RenameOver(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := WriteFile(t, filepath.Dir(path), "."+filepath.Base(path)+".new", data)
	if fi, err := os.Stat(path); err == nil {
		if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
