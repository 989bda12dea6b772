package reload

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
)

// checkPEM refuses a changed file that holds PEM but does not parse to the
// end (a CA file still being written), so a restart or reload never reads
// half a file; one that OpenSSL's cafile reader drops whole
// (hashlink.ParseInfos: a certificate block with PEM headers, say), which
// the restarted broker would fail to load; and a file the server could not
// read: a FIFO, a device, one too large (pemfile.ReadFile names it). A path
// that is gone or a directory is not judged here: the hooks and the server
// decide.
func checkPEM(path string) error {
	data, err := pemfile.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.EISDIR):
		return nil
	case err != nil:
		return err
	}
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return nil
	}
	if _, err := pemfile.Parse(data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := hashlink.ParseInfos(data); err != nil {
		return fmt.Errorf("%s: OpenSSL reads no certificate from it as a cafile: %w", path, err)
	}
	return nil
}
