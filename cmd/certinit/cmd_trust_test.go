package main

import (
	"crypto/x509/pkix"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

func TestTrustCommands(t *testing.T) {
	in := t.TempDir()
	ca := testutil.NewCA(t, "CLI Test CA")
	caFile := testutil.WriteFile(t, in, "chain.pem", testutil.CertPEM(ca.Cert))
	leaf, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "broker.example"}})
	leafFile := testutil.WriteFile(t, in, "cert.pem", testutil.CertPEM(leaf))
	root := t.TempDir()

	tests := []struct {
		name string
		args []string
		code int
		out  string // a substring of stdout
		err  string // a substring of the one error line, if the command fails
	}{
		{"no files", []string{"trust", "install", "--root", root}, 2, "", "give one or more"},
		{"bad store", []string{"trust", "list", "--root", root, "--store", "gentoo"}, 2, "", "unknown store"},
		{"missing root", []string{"trust", "list", "--root", filepath.Join(root, "nope")}, 1, "", "nope"},
		{"leaf refused", []string{"trust", "install", "--root", root, leafFile}, 1, "", "root CA at the top of its chain"},
		{"install", []string{"trust", "install", "--root", root, caFile}, 0, "1 added", ""},
		{"install again", []string{"trust", "install", "--root", root, caFile}, 0, "0 added, 1 already present", ""},
		{"list", []string{"trust", "list", "--root", root}, 0, "CN=CLI Test CA", ""},
		{"rebuild", []string{"trust", "rebuild", "--root", root, "--fresh"}, 0, "debian store", ""},
		{"remove unknown", []string{"trust", "remove", "--root", root, "nothing-here"}, 1, "", "no such certificate"},
		{"remove", []string{"trust", "remove", "--root", root, caFile}, 0, "1 removed", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if tc.err != "" {
				requireErrorLine(t, tc.code, code, errOut, tc.err)
			} else if code != tc.code || !strings.Contains(out, tc.out) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
		})
	}
}

func TestTrustListJSONAndEnv(t *testing.T) {
	in := t.TempDir()
	caFile := testutil.WriteFile(t, in, "ca.pem", testutil.CertPEM(testutil.NewCA(t, "JSON CA").Cert))
	root := t.TempDir()
	t.Setenv("CERTINIT_ROOT", root)
	t.Setenv("CERTINIT_STORE", "dir:/capath")
	if code, out, errOut := runCLI(t, "trust", "install", caFile); code != 0 {
		t.Fatalf("install: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "capath", "ca-certificates.bundle")); err != nil {
		t.Fatalf("CERTINIT_ROOT/CERTINIT_STORE not honoured: %v", err)
	}
	code, out, errOut := runCLI(t, "trust", "list", "--json")
	if code != 0 {
		t.Fatalf("list: %d %s", code, errOut)
	}
	var certs []struct {
		Subject, Hash, Source string
	}
	if err := json.Unmarshal([]byte(out), &certs); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(certs) != 1 || certs[0].Subject != "CN=JSON CA,O=certinit test" || len(certs[0].Hash) != 8 || !strings.HasPrefix(certs[0].Source, "/capath/") {
		t.Errorf("list --json = %+v", certs)
	}
}
