package pemfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/certinit/certinit/internal/userfile"
)

// TestReadFileGuards: ReadFile is the guarded reader (internal/userfile)
// with MaxFileSize as its bound; the reader's own rules are tested there.
func TestReadFileGuards(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil { // sparse: nothing is written
		t.Fatal(err)
	}
	wantErrNaming(t, ignore(ReadFile(big)), big, "larger than 64 MiB")
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(fifo)
	if !errors.Is(err, userfile.ErrNotRegular) {
		t.Fatalf("FIFO: %v, want ErrNotRegular", err)
	}
	_, err = ReadCertificates(fifo)
	if !errors.Is(err, userfile.ErrNotRegular) {
		t.Fatalf("ReadCertificates of a FIFO: %v, want ErrNotRegular", err)
	}
	_, err = ReadKey(fifo)
	if !errors.Is(err, userfile.ErrNotRegular) {
		t.Fatalf("ReadKey of a FIFO: %v, want ErrNotRegular", err)
	}
}

func ignore(_ []byte, err error) error { return err }
