package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

func corpusFile(t *testing.T, name string) string {
	return filepath.Join(testutil.ModuleRoot(t), "hashlink", "testdata", "corpus", name)
}

// TestHashCommand compares `certinit hash` with what openssl prints for a
// PEM certificate, the same certificate in DER, and a CRL, new and old.
func TestHashCommand(t *testing.T) {
	dir := t.TempDir()
	pemCert := corpusFile(t, "21-utf8-latin.pem")
	derCert := filepath.Join(dir, "cert.der")
	testutil.OpenSSL(t, "x509", "-in", pemCert, "-outform", "DER", "-out", derCert)
	crl := corpusFile(t, "62-crl-bmp.pem")
	derCRL := filepath.Join(dir, "crl.der")
	testutil.OpenSSL(t, "crl", "-in", crl, "-outform", "DER", "-out", derCRL)
	tests := []struct {
		name, file, flag string
		openssl          []string
	}{
		{"pem", pemCert, "", []string{"x509", "-noout", "-subject_hash", "-in", pemCert}},
		{"pem old", pemCert, "--old", []string{"x509", "-noout", "-subject_hash_old", "-in", pemCert}},
		{"der", derCert, "", []string{"x509", "-noout", "-subject_hash", "-inform", "DER", "-in", derCert}},
		{"crl", crl, "", []string{"crl", "-noout", "-hash", "-in", crl}},
		{"crl der old", derCRL, "--old", []string{"crl", "-noout", "-hash_old", "-inform", "DER", "-in", derCRL}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"hash"}
			if tc.flag != "" {
				args = append(args, tc.flag)
			}
			code, stdout, stderr := runCLI(t, append(args, tc.file)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			want := testutil.OpenSSL(t, tc.openssl...) + "  " + tc.file + "\n"
			if stdout != want {
				t.Errorf("got %q, want %q", stdout, want)
			}
		})
	}
}

func TestHashCommandErrors(t *testing.T) {
	good := corpusFile(t, "00-plain.pem")
	bad := corpusFile(t, "51-bad-visiblestring.pem")
	bundle := testutil.WriteFile(t, t.TempDir(), "bundle.pem", append(testutil.ReadFile(t, good), testutil.ReadFile(t, corpusFile(t, "01-case-upper.pem"))...))
	code, stdout, stderr := runCLI(t, "hash", bad, good, bundle, "/nonexistent.pem")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stdout, "e6dddb6d  "+good) || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout %q: want only the good file's line", stdout)
	}
	for _, f := range []string{bad, bundle, "/nonexistent.pem"} {
		if !strings.Contains(stderr, f+":") {
			t.Errorf("stderr does not name %s: %q", f, stderr)
		}
	}
	if code, _, _ := runCLI(t, "hash"); code != 2 {
		t.Errorf("hash without FILE: exit %d, want 2", code)
	}
}

// TestRehashCommand runs `certinit rehash -v` and `openssl rehash` on copies
// of the corpus and compares the links.
func TestRehashCommand(t *testing.T) {
	src := filepath.Join(testutil.ModuleRoot(t), "hashlink", "testdata", "corpus")
	ref, ours := t.TempDir(), t.TempDir()
	for _, d := range []string{ref, ours} {
		ents, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			testutil.WriteFile(t, d, e.Name(), testutil.ReadFile(t, filepath.Join(src, e.Name())))
		}
	}
	testutil.OpenSSLRehash(t, ref, "-compat")
	code, stdout, stderr := runCLI(t, "--log-format", "json", "rehash", "--compat", "-v", ours)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "link 00-plain.pem -> e6dddb6d.0\n") {
		t.Errorf("verbose output lacks the link of 00-plain.pem: %q", stdout)
	}
	skipped := testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.HasAttr("path", filepath.Join(ours, "51-bad-visiblestring.pem")))
	if len(testutil.JSONLogs(t, stderr).Matching(skipped)) != 1 {
		t.Errorf("no warning for the skipped 51-bad-visiblestring.pem: %q", stderr)
	}
	if d := testutil.DiffMaps(testutil.Links(t, ref), testutil.Links(t, ours)); d != "" {
		t.Errorf("links differ from openssl rehash's (- openssl only, + certinit only):\n%s", d)
	}
}

func TestRehashCommandErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("nowhere.pem", filepath.Join(dir, "dangling.pem")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "rehash", dir); code != 1 || !strings.Contains(stderr, "dangling.pem") {
		t.Errorf("dangling symlink: exit %d, stderr %q; want 1 naming the file", code, stderr)
	}
	if code, _, _ := runCLI(t, "rehash", "--old", "--compat", dir); code != 2 {
		t.Errorf("--old --compat: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "rehash"); code != 2 {
		t.Errorf("no DIR: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "rehash", filepath.Join(dir, "missing")); code != 1 {
		t.Errorf("missing DIR: exit %d, want 1", code)
	}
}
