package pemfile

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// FuzzContainer feeds arbitrary bytes to Container, the sniffing of PKCS#7
// and PKCS#12 behind the message for a .p7b or .pfx file. Beyond not
// panicking and taking no time:
//   - for input without a PEM block, Parse reports a container (a
//     *FormatError) exactly when it finds no certificate, CRL or key in it
//     and Container recognises the input;
//   - Certificates reports a container only where Container recognises
//     the same one, never for input it reads certificates from.
//
// Seeds: the openssl-made files of TestContainerFormats, and truncations
// of them, which must not be recognised as anything.
func FuzzContainer(f *testing.F) {
	files, certPEM := containerFiles(f)
	for _, path := range files {
		data := testutil.ReadFile(f, path)
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add(certPEM)
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		c := Container(data)
		var fe *FormatError
		if !bytes.Contains(data, []byte("-----BEGIN ")) {
			_, err := Parse(data)
			if got, want := errors.As(err, &fe), err != nil && c != nil; got != want {
				t.Fatalf("Parse: %v; Container: %v", err, c)
			}
		}
		if _, err := Certificates(data); errors.As(err, &fe) && (c == nil || fe.Format != c.Format) {
			t.Fatalf("Certificates reports %s where Container says %v", fe.Format, c)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%d bytes took %v", len(data), d)
		}
	})
}
