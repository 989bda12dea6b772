package embed

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// opensslFingerprint asks the reference tool for a certificate's SHA-256
// fingerprint ("AB:CD:...").
func opensslFingerprint(t *testing.T, openssl string, c *x509.Certificate) string {
	t.Helper()
	p := testutil.WriteFile(t, t.TempDir(), "c.pem", testutil.CertPEM(c))
	out, err := exec.Command(openssl, "x509", "-in", p, "-noout", "-fingerprint", "-sha256").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	_, fp, ok := strings.Cut(strings.TrimSpace(string(out)), "=")
	if !ok {
		t.Fatalf("unexpected openssl output %q", out)
	}
	return fp
}

// compileAndParse builds testdata/parse.c with the generated source against
// mbedTLS and returns what the program printed.
func compileAndParse(t *testing.T, src []byte, ident string, der bool) string {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	testutil.RequireFile(t, "/usr/include/mbedtls/x509_crt.h", "libmbedtls-dev not installed: run `make deps`")
	dir := t.TempDir()
	gen := testutil.WriteFile(t, dir, "generated.c", src)
	harness, err := filepath.Abs("testdata/parse.c")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "parse")
	derFlag := "-DDER=0"
	if der {
		derFlag = "-DDER=1"
	}
	cmd := exec.Command(gcc, "-std=c11", "-Wall", "-Werror", "-o", bin, harness, gen,
		"-DIDENT="+ident, derFlag, "-lmbedx509", "-lmbedcrypto")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s\n--- generated source ---\n%s", err, out, src)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("mbedTLS harness: %v\n%s", err, out)
	}
	return string(out)
}

func TestGenerateParsesWithMbedTLS(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	root := testutil.NewCA(t, "Embed Root")
	inter := root.Intermediate(t, "Embed Intermediate")
	leaf, _ := inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "device-42"}})

	tests := []struct {
		name   string
		format Format
		certs  []*x509.Certificate
	}{
		{"pem one root", FormatPEM, []*x509.Certificate{root.Cert}},
		{"pem bundle of three", FormatPEM, []*x509.Certificate{leaf, inter.Cert, root.Cert}},
		{"der one leaf", FormatDER, []*x509.Certificate{leaf}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const ident = "ca_cert"
			src, err := Generate(testutil.CertPEM(tc.certs...), Options{Format: tc.format, Name: ident, Source: "ca.pem"})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, c := range tc.certs {
				fp := opensslFingerprint(t, openssl, c)
				want = append(want, fp)
				if !strings.Contains(string(src), fp) {
					t.Errorf("header comment lacks fingerprint %s", fp)
				}
			}
			got := compileAndParse(t, src, ident, tc.format == FormatDER)
			if got != strings.Join(want, "\n")+"\n" {
				t.Fatalf("mbedTLS parsed:\n%s\nopenssl fingerprints:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func TestGenerateFromDERInput(t *testing.T) {
	root := testutil.NewCA(t, "DER Input Root")
	src, err := Generate(root.Cert.Raw, Options{Format: FormatPEM, Name: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "\"-----BEGIN CERTIFICATE-----\\r\\n\"") {
		t.Fatalf("PEM lines do not end in \\r\\n:\n%s", src)
	}
}

func TestGenerateRefuses(t *testing.T) {
	root := testutil.NewCA(t, "Refuse Root")
	bundle := testutil.CertPEM(root.Cert, root.Cert)
	tests := []struct {
		name string
		data []byte
		opts Options
		want string
	}{
		{"der with two certificates", bundle, Options{Format: FormatDER, Name: "x"}, "exactly one certificate"},
		{"private key", append(testutil.CertPEM(root.Cert), testutil.KeyPEM(t, root.Key)...), Options{Name: "x"}, "private key"},
		{"bad identifier", bundle, Options{Name: "1abc"}, "not a C identifier"},
		{"keyword", bundle, Options{Name: "int"}, "C keyword"},
		{"unknown format", bundle, Options{Format: "rust", Name: "x"}, "unknown format"},
		{"not a certificate", []byte("hello"), Options{Name: "x"}, "not a certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(tc.data, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaultName(t *testing.T) {
	tests := map[string]string{
		"certs/ca.crt":     "ca_crt",
		"1-root.pem":       "cert_1_root_pem",
		"-":                "cert",
		"ISRG Root X1.pem": "ISRG_Root_X1_pem",
		"/etc/ssl/int":     "cert_int",
		"Zertifikat-ä.pem": "Zertifikat___pem",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			got := DefaultName(in)
			if got != want {
				t.Fatalf("DefaultName(%q) = %q, want %q", in, got, want)
			}
			if err := ValidIdent(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCommentSafe(t *testing.T) {
	got := commentSafe("CN=evil */ int x; /*\n")
	if strings.Contains(got, "*/") || strings.Contains(got, "\n") {
		t.Fatalf("commentSafe left a comment end or newline: %q", got)
	}
}
