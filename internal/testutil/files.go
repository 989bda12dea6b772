package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Files a test sets up or expects, each step failing the test when it
// fails. Test fixtures only: product code writes with internal/atomicfile.

// WriteFile writes data to dir/name (mode 0644, or 0600 for names ending in
// "key.pem"), making dir if needed, and returns the path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	mode := os.FileMode(0o644)
	if strings.HasSuffix(name, "key.pem") {
		mode = 0o600
	}
	Mkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// ReadFile returns the content of a file the test expects to be there.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Mkdir makes the directory p and its parents (mode 0755) and returns p.
func Mkdir(t testing.TB, p string) string {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// Symlink makes link point at target, making link's directory if needed.
func Symlink(t testing.TB, target, link string) {
	t.Helper()
	Mkdir(t, filepath.Dir(link))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// Exists reports whether p names something (followed if a link).
func Exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// WaitExists waits until p exists: a file another process creates to say
// it got somewhere. It fails the test after within.
func WaitExists(t testing.TB, p string, within time.Duration) {
	t.Helper()
	Eventually(t, within, func() (bool, string) { return Exists(p), p + " does not exist" })
}

// ReadableDir returns a new temporary directory that other users can
// reach: Mosquitto started as root drops to its own user, and a test may
// run certinit as an unprivileged one. (t.TempDir's parent is private to
// root.)
func ReadableDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
