package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	group := func(c, k string) []File {
		return []File{{cert, []byte(c), 0o644}, {key, []byte(k), 0o600}}
	}
	written, err := WriteFiles(group("cert1", "key1"), Options{})
	if err != nil || len(written) != 2 {
		t.Fatalf("WriteFiles: %v %v", written, err)
	}
	for p, want := range map[string]os.FileMode{cert: 0o644, key: 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v mode %v, want %v", p, err, fi.Mode().Perm(), want)
		}
	}

	// A symlink planted at the second name: an error, and the first file
	// keeps its old content (nothing is renamed before every file is staged).
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(key)
	if err := os.Symlink(outside, key); err != nil {
		t.Fatal(err)
	}
	written, err = WriteFiles(group("cert2", "key2"), Options{})
	if !errors.Is(err, ErrNotRegular) || len(written) != 0 || !strings.Contains(err.Error(), key) {
		t.Fatalf("planted link: written %v, err %v; want ErrNotRegular naming %s", written, err, key)
	}
	for p, want := range map[string]string{cert: "cert1", outside: "outside"} {
		if b, _ := os.ReadFile(p); string(b) != want {
			t.Errorf("%s = %q, want %q", p, b, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if IsTemp(e.Name()) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
