package embed

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestLinksFromCAndCPP compiles the generated source as C and as C++,
// and links it with C++ code that uses the arrays through the header
// (testdata/parse.cpp) and, without a header, with the C harness: every
// combination must link (the arrays have external C linkage) and mbedTLS
// must parse what OpenSSL fingerprints.
func TestLinksFromCAndCPP(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	gpp := testutil.RequireTool(t, "g++")
	openssl := testutil.RequireTool(t, "openssl")
	testutil.RequireFile(t, "/usr/include/mbedtls/x509_crt.h", "libmbedtls-dev not installed: run `make deps`")
	root := testutil.NewCA(t, "Link Root")
	inter := root.Intermediate(t, "Link Intermediate")
	cppHarness, _ := filepath.Abs("testdata/parse.cpp")
	cHarness, _ := filepath.Abs("testdata/parse.c")
	const ident = "broker_ca"

	tests := []struct {
		name     string
		format   Format
		certs    []*x509.Certificate
		header   bool
		genAsCPP bool // compile the generated source as C++
		userCPP  bool // the code using the arrays is C++ (else C)
	}{
		{"pem, header, source as C, user C++", FormatPEM, []*x509.Certificate{inter.Cert, root.Cert}, true, false, true},
		{"pem, header, source as C++, user C++", FormatPEM, []*x509.Certificate{root.Cert}, true, true, true},
		{"der, header, source as C, user C++", FormatDER, []*x509.Certificate{root.Cert}, true, false, true},
		{"pem, no header, source as C++, user C", FormatPEM, []*x509.Certificate{root.Cert}, false, true, false},
		{"der, no header, source as C++, user C", FormatDER, []*x509.Certificate{root.Cert}, false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Format: tc.format, Name: ident, Source: "ca.pem"}
			if tc.header {
				opts.Header = filepath.Join(dir, "embedded.h")
				h, err := Header(opts)
				if err != nil {
					t.Fatal(err)
				}
				testutil.WriteFile(t, dir, "embedded.h", h)
			}
			src, err := Generate(testutil.CertPEM(tc.certs...), opts)
			if err != nil {
				t.Fatal(err)
			}
			gen := testutil.WriteFile(t, dir, "generated.c", src)
			der := "-DDER=0"
			if tc.format == FormatDER {
				der = "-DDER=1"
			}
			run := func(tool string, args ...string) {
				t.Helper()
				if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
					t.Fatalf("%s %s: %v\n%s\n--- generated source ---\n%s", filepath.Base(tool), strings.Join(args, " "), err, out, src)
				}
			}
			genObj, userObj := filepath.Join(dir, "gen.o"), filepath.Join(dir, "user.o")
			if tc.genAsCPP {
				run(gpp, "-std=c++17", "-Wall", "-Werror", "-x", "c++", "-c", gen, "-o", genObj)
			} else {
				run(gcc, "-std=c11", "-Wall", "-Werror", "-c", gen, "-o", genObj)
			}
			if tc.userCPP {
				run(gpp, "-std=c++17", "-Wall", "-Werror", "-I", dir, "-DIDENT="+ident, der, "-c", cppHarness, "-o", userObj)
			} else {
				run(gcc, "-std=c11", "-Wall", "-Werror", "-DIDENT="+ident, der, "-c", cHarness, "-o", userObj)
			}
			bin := filepath.Join(dir, "parse")
			run(gpp, "-o", bin, userObj, genObj, "-lmbedx509", "-lmbedcrypto")
			out, err := exec.Command(bin).CombinedOutput()
			if err != nil {
				t.Fatalf("harness: %v\n%s", err, out)
			}
			var want []string
			for _, c := range tc.certs {
				want = append(want, opensslFingerprint(t, openssl, c))
			}
			if string(out) != strings.Join(want, "\n")+"\n" {
				t.Errorf("mbedTLS parsed:\n%s\nopenssl fingerprints:\n%s", out, strings.Join(want, "\n"))
			}
		})
	}
}

// TestWarnsWhenNotCA: embedding a server certificate as a trust anchor
// gets a warning naming it; a CA does not.
func TestWarnsWhenNotCA(t *testing.T) {
	root := testutil.NewCA(t, "Warn Root")
	leaf, _ := root.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "broker.example"}})
	for _, tc := range []struct {
		name  string
		certs []*x509.Certificate
		warn  string // subject warned about, or ""
	}{
		{"root", []*x509.Certificate{root.Cert}, ""},
		{"leaf", []*x509.Certificate{leaf}, leaf.Subject.String()},
		{"leaf and root", []*x509.Certificate{leaf, root.Cert}, leaf.Subject.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, log := testutil.NewLogs(t)
			if _, err := Generate(testutil.CertPEM(tc.certs...), Options{Name: "ca", Source: "in.pem", Log: log}); err != nil {
				t.Fatal(err)
			}
			warned := logs.Matching(testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.HasAttr("path", "in.pem")))
			switch {
			case tc.warn == "" && len(warned) > 0:
				t.Errorf("warned about a CA: %v", warned)
			case tc.warn != "" && (len(warned) != 1 || len(logs.Matching(testutil.HasAttr("subject", tc.warn))) != 1):
				t.Errorf("want one warning about %s, got %v", tc.warn, warned)
			}
		})
	}
}
