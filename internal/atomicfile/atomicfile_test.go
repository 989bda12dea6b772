package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir, dest string)
		perm    os.FileMode
		wantErr error
	}{
		{name: "new file", perm: 0o644},
		{name: "secret", perm: 0o600},
		{name: "replace regular", perm: 0o640, setup: func(t *testing.T, dir, dest string) {
			if err := os.WriteFile(dest, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "planted symlink", perm: 0o644, wantErr: ErrNotRegular, setup: func(t *testing.T, dir, dest string) {
			if err := os.Symlink(filepath.Join(dir, "victim"), dest); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory in the way", perm: 0o644, wantErr: ErrNotRegular, setup: func(t *testing.T, dir, dest string) {
			if err := os.Mkdir(dest, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "out.pem")
			if tc.setup != nil {
				tc.setup(t, dir, dest)
			}
			err := WriteFile(dest, []byte("new"), tc.perm)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if _, err := os.Stat(filepath.Join(dir, "victim")); !os.IsNotExist(err) {
					t.Fatal("write followed the planted symlink")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(dest)
				fi, _ := os.Stat(dest)
				if string(got) != "new" || fi.Mode().Perm() != tc.perm {
					t.Fatalf("got %q mode %v, want %q %v", got, fi.Mode().Perm(), "new", tc.perm)
				}
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if IsTemp(e.Name()) {
					t.Fatalf("temporary file left behind: %s", e.Name())
				}
			}
		})
	}
}

func TestSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "abcd1234.0")
	if err := Symlink("a.pem", link, false); err != nil {
		t.Fatal(err)
	}
	if err := Symlink("b.pem", link, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(link); got != "b.pem" {
		t.Fatalf("link -> %q, want b.pem", got)
	}
	reg := filepath.Join(dir, "regular")
	os.WriteFile(reg, nil, 0o644)
	if err := Symlink("b.pem", reg, false); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("replacing a regular file: err = %v", err)
	}
}
