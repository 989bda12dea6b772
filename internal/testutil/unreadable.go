package testutil

import (
	"os"
	"syscall"
	"testing"
)

// UnreadableFile is a kind of file that certinit must refuse to read,
// wherever it meets one, with one error naming it and without blocking.
type UnreadableFile struct {
	Name string
	Make func(t testing.TB, path string) // makes one at path
}

// UnreadableFiles are a FIFO (opening it for reading waits for a writer),
// a link to a character device (reading it never ends), a directory, and
// a sparse file larger than any bound certinit reads with (64 MiB).
var UnreadableFiles = []UnreadableFile{
	{"fifo", func(t testing.TB, path string) {
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			t.Fatal(err)
		}
	}},
	{"link to a character device", func(t testing.TB, path string) {
		if err := os.Symlink("/dev/zero", path); err != nil {
			t.Fatal(err)
		}
	}},
	{"directory", func(t testing.TB, path string) {
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
	}},
	{"oversized", func(t testing.TB, path string) {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 64<<20+1); err != nil {
			t.Fatal(err)
		}
	}},
}
