package examples

import (
	"crypto/x509"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestMbedTLSLoadCA builds examples/mbedtls/load_ca.c, unchanged, with the
// file `certinit embed` writes (the README's two command lines, PEM and
// DER) and runs it: mbedTLS must parse every certificate embedded, and
// print each subject. embed's own TestGenerateParsesWithMbedTLS checks the
// generator byte for byte against OpenSSL's fingerprints with its own
// harness; this test checks the command and the snippet users copy.
func TestMbedTLSLoadCA(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	testutil.RequireFile(t, "/usr/include/mbedtls/x509_crt.h", "libmbedtls-dev not installed: run `make deps`")
	src, err := filepath.Abs("mbedtls/load_ca.c")
	if err != nil {
		t.Fatal(err)
	}
	root := testutil.NewCA(t, "Broker Root CA")
	inter := root.Intermediate(t, "Broker Issuing CA")

	tests := []struct {
		name  string
		args  []string // certinit embed options, as in the README
		der   bool
		certs []*x509.Certificate
	}{
		{"pem root", []string{"--name", "broker_ca"}, false, []*x509.Certificate{root.Cert}},
		{"pem chain", []string{"--name", "broker_ca"}, false, []*x509.Certificate{inter.Cert, root.Cert}},
		{"der root", []string{"--format", "c-der", "--name", "broker_ca"}, true, []*x509.Certificate{root.Cert}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ca := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(tc.certs...))
			gen := testutil.WriteFile(t, dir, "broker_ca.c", []byte(mustCertinit(t, append(append([]string{"embed"}, tc.args...), ca)...)))
			bin := filepath.Join(dir, "load_ca")
			args := []string{"-std=c11", "-Wall", "-Werror", "-o", bin, src, gen}
			if tc.der {
				args = append(args, "-DEMBED_DER")
			}
			args = append(args, "-lmbedx509", "-lmbedcrypto")
			if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
				t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			out, err := exec.Command(bin).CombinedOutput()
			if err != nil {
				t.Fatalf("load_ca: %v\n%s", err, out)
			}
			if n := strings.Count(string(out), "subject name"); n != len(tc.certs) {
				t.Fatalf("load_ca printed %d certificates, want %d:\n%s", n, len(tc.certs), out)
			}
			for _, c := range tc.certs {
				if want := "CN=" + c.Subject.CommonName; !strings.Contains(string(out), want) {
					t.Errorf("load_ca output lacks %s:\n%s", want, out)
				}
			}
		})
	}
}
