package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRefusalWords: a write refused because something other than a regular
// file is at the destination says what is there in words, in one line
// naming the destination once, and matches ErrNotRegular; a symbolic link
// is named as one, with the rule that certinit does not write through
// links. Nothing is written anywhere.
func TestRefusalWords(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, dest string)
		words []string
	}{
		{"symbolic link", func(t *testing.T, dest string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(dest), "victim"), dest); err != nil {
				t.Fatal(err)
			}
		}, []string{"symbolic link", "does not write through links"}},
		{"dangling link to a directory", func(t *testing.T, dest string) {
			if err := os.Symlink("/", dest); err != nil {
				t.Fatal(err)
			}
		}, []string{"symbolic link"}},
		{"directory", func(t *testing.T, dest string) {
			if err := os.Mkdir(dest, 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{"directory"}},
		{"named pipe", func(t *testing.T, dest string) {
			if err := syscall.Mkfifo(dest, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"named pipe"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "cert.pem")
			tc.plant(t, dest)
			for what, write := range map[string]func() error{
				"WriteFile": func() error { return WriteFile(dest, []byte("new"), 0o644) },
				"WriteFiles": func() error {
					_, err := WriteFiles([]File{{Path: filepath.Join(dir, "key.pem"), Data: []byte("k"), Perm: 0o600}, {Path: dest, Data: []byte("c"), Perm: 0o644}}, Options{})
					return err
				},
			} {
				err := write()
				if !errors.Is(err, ErrNotRegular) {
					t.Fatalf("%s: %v, want ErrNotRegular", what, err)
				}
				msg := err.Error()
				if strings.Count(msg, dest) != 1 || strings.Contains(msg, "\n") {
					t.Errorf("%s: %q: want one line naming %s once", what, msg, dest)
				}
				if strings.Contains(msg, "---") {
					t.Errorf("%s: %q: a mode string instead of words", what, msg)
				}
				for _, w := range tc.words {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: %q does not say %q", what, msg, w)
					}
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("%d entries in the directory, want only the planted one", len(ents))
			}
		})
	}
}
