package main

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

type cliPKI struct {
	root          *testutil.CA
	rootFile      string
	certFile, key string
	addr          string
}

func newCLIPKI(t *testing.T) *cliPKI {
	t.Helper()
	root := testutil.NewCA(t, "CLI Root")
	leaf, key := root.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"}})
	dir := t.TempDir()
	return &cliPKI{
		root:     root,
		rootFile: testutil.WriteFile(t, dir, "root.pem", testutil.CertPEM(root.Cert)),
		certFile: testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(leaf)),
		key:      testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, key)),
		addr:     testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}}}),
	}
}

func TestProbeCLI(t *testing.T) {
	p := newCLIPKI(t)
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		code    int
		lastOut string // the last line of stdout
	}{
		{"ok, flags after HOST", []string{"probe", p.addr, "--servername", "localhost", "--cafile", p.rootFile}, nil, 0, "verdict: ok"},
		{"ok, flags before HOST", []string{"probe", "--servername=localhost", "--cafile", p.rootFile, p.addr}, nil, 0, "verdict: ok"},
		{"cafile from the environment", []string{"probe", p.addr, "--servername", "localhost"}, map[string]string{"CERTINIT_CAFILE": p.rootFile}, 0, "verdict: ok"},
		{"wrong name", []string{"probe", p.addr, "--cafile", p.rootFile}, nil, 1, "verdict: hostname-mismatch"},
		{"no trust", []string{"probe", p.addr, "--servername", "localhost", "--capath", t.TempDir()}, nil, 1, "verdict: unknown-authority"},
		{"no host", []string{"probe"}, nil, 2, ""},
		{"two hosts", []string{"probe", p.addr, p.addr}, nil, 2, ""},
		{"unknown flag after HOST", []string{"probe", p.addr, "--nope"}, nil, 2, ""},
		{"missing cafile", []string{"probe", p.addr, "--cafile", filepath.Join(t.TempDir(), "x.pem")}, nil, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if tc.lastOut != "" && lines[len(lines)-1] != tc.lastOut {
				t.Fatalf("last line %q, want %q\n%s", lines[len(lines)-1], tc.lastOut, out)
			}
		})
	}
}

func TestProbeCLIJSON(t *testing.T) {
	p := newCLIPKI(t)
	code, out, errOut := runCLI(t, "probe", p.addr, "--json", "--cafile", p.rootFile)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (hostname-mismatch by IP)\n%s%s", code, out, errOut)
	}
	var rep struct {
		Verdict      string `json:"verdict"`
		Diagnosis    []string
		Certificates []struct {
			SHA256 string `json:"sha256"`
		} `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if rep.Verdict != "hostname-mismatch" || len(rep.Certificates) != 1 || rep.Certificates[0].SHA256 == "" || len(rep.Diagnosis) == 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestCheckCLI(t *testing.T) {
	p := newCLIPKI(t)
	other := newCLIPKI(t)
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"good pair", []string{"check", "--cert", p.certFile, "--key", p.key, "--cafile", p.rootFile, "--min-validity", "720h"}, 0, "ok\n"},
		{"mismatch", []string{"check", "--cert", p.certFile, "--key", other.key}, 1, other.key + ": key does not match"},
		{"too short", []string{"check", "--cert", p.certFile, "--min-validity", "9000h"}, 1, "less than --min-validity"},
		{"nothing", []string{"check"}, 2, ""},
		{"key alone", []string{"check", "--key", p.key}, 2, ""},
		{"stray argument", []string{"check", p.certFile}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Fatalf("exit %d (want %d), stdout %q (want %q), stderr %q", code, tc.code, out, tc.out, errOut)
			}
		})
	}
}

func TestEmbedCLI(t *testing.T) {
	p := newCLIPKI(t)
	dir := t.TempDir()
	ca := testutil.WriteFile(t, dir, "my-ca.crt", testutil.CertPEM(p.root.Cert))
	code, out, errOut := runCLI(t, "embed", ca)
	if code != 0 || !strings.Contains(out, "const char my_ca_crt[] =") || !strings.Contains(out, "const size_t my_ca_crt_len = sizeof(my_ca_crt);") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "embed", ca, "--format", "c-der", "--name", "root_der")
	if code != 0 || !strings.Contains(out, "const unsigned char root_der[] = {") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"embed"}, {"embed", ca, "--name", "9x"}, {"embed", ca, "--format", "rust"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := runCLI(t, "embed", p.key); code != 1 || !strings.Contains(errOut, "private key") {
		t.Errorf("embedding a key: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "my-ca.c")); err == nil {
		t.Error("embed wrote a file; it writes to standard output")
	}
}
