package hashlink

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// TestClassifyNotPEM: a candidate file without a PEM block gets no link
// (as with openssl rehash, which compareRehash checks), and the reason
// tells a real DER certificate or CRL (refused because capath lookups read
// PEM only) from a PKCS#7 bundle (named, with its conversion) and from a
// file that is no certificate at all, which must not be called DER.
func TestClassifyNotPEM(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	ca := testutil.NewCA(t, "Classify CA")
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pemPath := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))
	p7 := filepath.Join(t.TempDir(), "ca.p7b")
	if out, err := exec.Command(openssl, "crl2pkcs7", "-nocrl", "-certfile", pemPath, "-outform", "DER", "-out", p7).CombinedOutput(); err != nil {
		t.Fatalf("openssl crl2pkcs7: %v\n%s", err, out)
	}
	files := map[string][]byte{
		"der-cert.crt": ca.Cert.Raw,
		"der-crl.crl":  crl,
		"bundle.crt":   testutil.ReadFile(t, p7),
		"garbage.crt":  []byte("garbage, not a certificate\n"),
	}
	for name, data := range files {
		testutil.WriteFile(t, dir, name, data)
	}

	for name, data := range files {
		_, err := Classify(data)
		var fe *pemfile.FormatError
		pemOnly, notCert, container := errors.Is(err, ErrPEMOnly), errors.Is(err, ErrNotCertificate), errors.As(err, &fe)
		switch name {
		case "der-cert.crt", "der-crl.crl":
			if !pemOnly || notCert || container {
				t.Errorf("%s: %v, want ErrPEMOnly", name, err)
			}
		case "bundle.crt":
			if pemOnly || notCert || !container || fe.Format != "PKCS#7 (DER)" {
				t.Errorf("%s: %v, want a FormatError for PKCS#7 (DER)", name, err)
			}
		case "garbage.crt":
			if pemOnly || !notCert || container {
				t.Errorf("%s: %v, want ErrNotCertificate and nothing about DER", name, err)
			}
		}
	}

	// Through Rehash: the same links as openssl (only ca.pem's), and one
	// warning per file skipped, whose reasons are the three different ones.
	if _, err := compareRehash(t, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	logs, log := testutil.NewLogs(t)
	if _, err := Rehash(t.Context(), dir, Options{Log: log}); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for name := range files {
		recs := logs.Matching(testutil.HasAttr("path", filepath.Join(dir, name)))
		if len(recs) != 1 || recs[0].Attrs["reason"] == "" {
			t.Fatalf("%s: %d log records %v, want one warning with a reason", name, len(recs), recs)
		}
		reasons[name] = recs[0].Attrs["reason"]
	}
	if reasons["garbage.crt"] == reasons["der-cert.crt"] || reasons["garbage.crt"] == reasons["bundle.crt"] || reasons["der-cert.crt"] == reasons["bundle.crt"] {
		t.Errorf("a DER certificate, a PKCS#7 file and garbage share a reason: %q", reasons)
	}
}
