package userfile

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(regular, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock.pem")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, 101), 0o644); err != nil {
		t.Fatal(err)
	}
	linkToRegular := filepath.Join(dir, "link.pem")
	linkToFIFO := filepath.Join(dir, "fifolink.pem")
	for target, link := range map[string]string{"ca.pem": linkToRegular, "fifo.pem": linkToFIFO} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		path string
		want error // nil: reads "data"
	}{
		{"regular", regular, nil},
		{"link to regular", linkToRegular, nil},
		{"missing", filepath.Join(dir, "missing.pem"), fs.ErrNotExist},
		{"directory", dir, syscall.EISDIR},
		{"fifo", fifo, ErrNotRegular},
		{"link to fifo", linkToFIFO, ErrNotRegular},
		{"socket", sock, nil}, // open(2) of a socket fails: ENXIO
		{"character device", "/dev/null", ErrNotRegular},
		{"larger than the bound", big, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				data    []byte
				err     error
				openErr error // of Open, which has no size bound
			}
			done := make(chan result, 1)
			go func() {
				d, err := Read(tc.path, 100)
				f, openErr := Open(tc.path)
				if f != nil {
					f.Close()
				}
				done <- result{d, err, openErr}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Read or Open(%s) blocked", tc.path)
			}
			switch {
			case tc.want == ErrTooLarge:
				if r.openErr != nil {
					t.Errorf("Open(%s) = %v; it has no size bound", tc.path, r.openErr)
				}
			case fmt.Sprint(r.openErr) != fmt.Sprint(r.err):
				t.Errorf("Open(%s) = %v, Read's error is %v: want the same", tc.path, r.openErr, r.err)
			}
			if tc.name == "socket" {
				if r.err == nil || !errors.Is(r.err, syscall.ENXIO) {
					t.Fatalf("Read(socket) = %v, want ENXIO", r.err)
				}
			} else if tc.want == nil {
				if r.err != nil || string(r.data) != "data" {
					t.Fatalf("Read = %q, %v", r.data, r.err)
				}
				return
			} else if !errors.Is(r.err, tc.want) {
				t.Fatalf("Read(%s) = %v, want %v", tc.path, r.err, tc.want)
			}
			msg := r.err.Error()
			if !strings.HasPrefix(msg, tc.path+": ") || strings.Count(msg, tc.path) != 1 || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s once, first", msg, tc.path)
			}
		})
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{64 << 20, "64 MiB"}, {4 << 10, "4 KiB"}, {100, "100 bytes"}, {1<<20 + 1, "1048577 bytes"}} {
		if got := size(tc.n); got != tc.want {
			t.Errorf("size(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
