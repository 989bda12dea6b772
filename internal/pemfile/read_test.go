package pemfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestReadKinds: what each kind of path gives ReadFile and ReadRegularFile,
// with real files, a real FIFO and a real device.
func TestReadKinds(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 KB: several reads' worth
	for name, data := range map[string][]byte{"small.pem": []byte("hello\n"), "empty.pem": nil, "big.pem": big} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.pem"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		path        string
		regularOnly bool
		want        []byte
		wantErr     string
	}{
		{name: "small file", path: "small.pem", want: []byte("hello\n")},
		{name: "small file, regular only", path: "small.pem", regularOnly: true, want: []byte("hello\n")},
		{name: "empty file", path: "empty.pem", regularOnly: true, want: []byte{}},
		{name: "file larger than one read", path: "big.pem", regularOnly: true, want: big},
		{name: "missing", path: "nope.pem", wantErr: "no such file"},
		{name: "directory", path: "dir.pem", wantErr: "is a directory"},
		{name: "directory, regular only", path: "dir.pem", regularOnly: true, wantErr: "is a directory"},
		// A FIFO nobody writes to: the scan of a directory must not hang on it.
		{name: "FIFO, regular only", path: "fifo.pem", regularOnly: true, wantErr: "not a regular file (named pipe)"},
		{name: "character device, regular only", path: "/dev/null", regularOnly: true, wantErr: "not a regular file (character device)"},
		{name: "character device", path: "/dev/null", want: []byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			read := ReadFile
			if tc.regularOnly {
				read = ReadRegularFile
			}
			got, err := read(p)
			if tc.wantErr != "" {
				wantErrNaming(t, err, p, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("read %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

// TestReadPipe: a pipe given as <(...) is read as it comes, to its end.
func TestReadPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := bytes.Repeat([]byte("pipe data\n"), 20000)
	go func() {
		w.Write(want)
		w.Close()
	}()
	got, err := ReadFile("/dev/fd/" + strconv.Itoa(int(r.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes from the pipe, want %d", len(got), len(want))
	}
}

// TestReadRegularFileAt: a file in a directory opened once is read; a link
// in its last component is refused with ELOOP (the caller resolves links
// itself), as are FIFOs.
func TestReadRegularFileAt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.pem"), []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.pem", filepath.Join(dir, "link.pem")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fd := int(d.Fd())
	if got, err := ReadRegularFileAt(fd, "a.pem"); err != nil || string(got) != "data\n" {
		t.Fatalf("a.pem: %q, %v", got, err)
	}
	if _, err := ReadRegularFileAt(fd, "link.pem"); !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("link.pem: err = %v, want ELOOP", err)
	}
	if _, err := ReadRegularFileAt(fd, "fifo.pem"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("fifo.pem: err = %v, want a refusal", err)
	}
}
