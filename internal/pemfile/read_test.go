package pemfile

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestReadFileGuards: ReadFile, ReadCertificates and ReadKey are the
// guarded reader (internal/userfile, where its rules are tested one by
// one) with MaxFileSize as its bound: each refuses every kind of file
// certinit must not read (testutil.UnreadableFiles, the oversized one
// just above 64 MiB) with one error naming it first and once.
func TestReadFileGuards(t *testing.T) {
	readers := map[string]func(string) error{
		"ReadFile":         func(p string) error { _, err := ReadFile(p); return err },
		"ReadCertificates": func(p string) error { _, err := ReadCertificates(p); return err },
		"ReadKey":          func(p string) error { _, err := ReadKey(p); return err },
	}
	for _, k := range testutil.UnreadableFiles {
		t.Run(k.Name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "file.pem")
			k.Make(t, p)
			for name, read := range readers {
				err := read(p)
				if err == nil {
					t.Errorf("%s read it", name)
				} else if msg := err.Error(); !strings.HasPrefix(msg, p+": ") || strings.Count(msg, p) != 1 || strings.Contains(msg, "\n") {
					t.Errorf("%s: error %q: want one line naming %s first and once", name, msg, p)
				}
			}
		})
	}
}
