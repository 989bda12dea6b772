package pemfile

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// containerFiles makes, with openssl, the container files certificates
// come in: PKCS#7 in DER and in PEM (crl2pkcs7) and PKCS#12 (pkcs12
// -export, password "x"), all holding cert. It returns their paths by
// name, and the PEM of cert.
func containerFiles(t testing.TB) (map[string]string, []byte) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	ca := testutil.NewCA(t, "Container CA")
	dir := t.TempDir()
	certPEM := testutil.CertPEM(ca.Cert)
	cert := testutil.WriteFile(t, dir, "ca.pem", certPEM)
	key := testutil.WriteFile(t, dir, "ca-key.pem", testutil.KeyPEM(t, ca.Key))
	files := map[string]string{
		"PKCS#7 (DER)": filepath.Join(dir, "ca.p7b"),
		"PKCS#7 (PEM)": filepath.Join(dir, "ca-p7.pem"),
		"PKCS#12":      filepath.Join(dir, "ca.p12"),
	}
	for _, args := range [][]string{
		{"crl2pkcs7", "-nocrl", "-certfile", cert, "-outform", "DER", "-out", files["PKCS#7 (DER)"]},
		{"crl2pkcs7", "-nocrl", "-certfile", cert, "-out", files["PKCS#7 (PEM)"]},
		{"pkcs12", "-export", "-in", cert, "-inkey", key, "-passout", "pass:x", "-out", files["PKCS#12"]},
	} {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return files, certPEM
}

// TestContainerFormats: a PKCS#7 or PKCS#12 file given where certinit
// reads certificates or keys is named as such, in one error that names the
// file once, and the command the error suggests really turns the file into
// the PEM certificate that went into it.
func TestContainerFormats(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	files, certPEM := containerFiles(t)
	for format, path := range files {
		t.Run(format, func(t *testing.T) {
			for what, read := range map[string]func(string) error{
				"certificates": func(p string) error { _, err := ReadCertificates(p); return err },
				"key":          func(p string) error { _, err := ReadKey(p); return err },
			} {
				err := read(path)
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Format != format {
					t.Fatalf("reading %s: %v, want a FormatError for %s", what, err, format)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, path+": ") || strings.Count(msg, path) != 1 || strings.Contains(msg, "\n") {
					t.Errorf("reading %s: %q: want one line naming %s once, first", what, msg, path)
				}
				if !strings.Contains(msg, fe.Convert) {
					t.Errorf("reading %s: %q does not give the command %q", what, msg, fe.Convert)
				}
			}
			// The suggested command, run on the file, prints the
			// certificate that went into it.
			var fe *FormatError
			_, err := ReadCertificates(path)
			errors.As(err, &fe)
			args := strings.Fields(strings.ReplaceAll(fe.Convert, "FILE", path))[1:]
			if format == "PKCS#12" {
				args = append(args, "-passin", "pass:x")
			}
			out, err := exec.Command(openssl, args...).Output()
			if err != nil {
				t.Fatalf("%s: %v", fe.Convert, err)
			}
			certs, err := Certificates(out)
			if err != nil || len(certs) != 1 || !bytes.Equal(EncodeCerts(certs...), certPEM) {
				t.Fatalf("%s printed %d certificates (%v), want the one in the file", fe.Convert, len(certs), err)
			}
		})
	}
}

// TestNotAContainer: files that hold what certinit reads, or nothing it
// knows, are not called PKCS#7 or PKCS#12.
func TestNotAContainer(t *testing.T) {
	ca := testutil.NewCA(t, "Plain CA")
	for name, data := range map[string][]byte{
		"PEM certificate": testutil.CertPEM(ca.Cert),
		"DER certificate": ca.Cert.Raw,
		"PEM key":         testutil.KeyPEM(t, ca.Key),
		"garbage":         []byte("garbage\n"),
		"empty":           nil,
	} {
		if f := Container(data); f != nil {
			t.Errorf("%s: Container says %s", name, f.Format)
		}
	}
	if _, err := Parse([]byte("garbage\n")); !errors.Is(err, ErrNoObjects) {
		t.Errorf("garbage: %v, want ErrNoObjects", err)
	}
}
