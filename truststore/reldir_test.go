package truststore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestRelativeDirStore: dir:PATH with a relative PATH is the current
// directory's PATH when the root is /, and an error with any other root;
// a dir: store is never the root directory itself. Nothing is written at /.
func TestRelativeDirStore(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	for _, tc := range []struct {
		root, spec string
		want       string // LocalDir, "" for an error
	}{
		{"/", "dir:capath", filepath.Join(cwd, "capath")},
		{"", "dir:./certs/../capath", filepath.Join(cwd, "capath")},
		{"/", "dir:/etc/mosquitto/ca", "/etc/mosquitto/ca"},
		{t.TempDir(), "dir:capath", ""},
		{t.TempDir(), "dir:./capath", ""},
		{t.TempDir(), "dir:/", ""},
		{"/", "dir:/", ""},
		{"/", "dir:", ""},
	} {
		l, err := LayoutByName(tc.root, tc.spec)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("LayoutByName(%q, %q) = %s, want an error", tc.root, tc.spec, l.LocalDir)
		case tc.want != "" && (err != nil || l.LocalDir != tc.want || l.Bundle != filepath.Join(tc.want, dirBundleName)):
			t.Errorf("LayoutByName(%q, %q) = %v, %v; want %s", tc.root, tc.spec, l, err, tc.want)
		}
	}

	ca, _ := writeCA(t, t.TempDir(), "ca.pem", "Relative CA")
	s := openStore(t, "/", "dir:capath")
	install(t, s, ca)
	if n := countHashLinks(t, filepath.Join(cwd, "capath")); n != 1 {
		t.Errorf("%d hash links in ./capath, want 1", n)
	}
	if _, err := os.Stat("/capath"); !os.IsNotExist(err) {
		t.Errorf("/capath exists: %v", err)
	}
	if _, err := Open(t.TempDir(), "dir:capath", testutil.Logger(t)); err == nil {
		t.Error("Open with another root accepted a relative dir: path")
	}
}
