package main

import (
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestTrustPartialChain: an intermediate without its root is refused by
// trust install and by init --trust with one line naming the root and the
// flag that accepts it; with --allow-partial-chain it is installed and the
// output says what that means for OpenSSL clients. The flag has the same
// name in trust install, run and init.
func TestTrustPartialChain(t *testing.T) {
	in := t.TempDir()
	ca := testutil.NewCA(t, "CLI Partial Root")
	c, k := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "CLI Partial R3"}, IsCA: true})
	inter := &testutil.CA{Cert: c, Key: k}
	interFile := testutil.WriteFile(t, in, "chain.pem", testutil.CertPEM(inter.Cert))
	root := t.TempDir()
	rootSubject := ca.Cert.Subject.String()

	code, _, errOut := runCLI(t, "trust", "install", "--root", root, "--store", "dir:/capath", interFile)
	requireErrorLine(t, 1, code, errOut, interFile, rootSubject, "--allow-partial-chain")
	code, out, errOut := runCLI(t, "trust", "install", "--root", root, "--store", "dir:/capath", "--allow-partial-chain", interFile)
	if code != 0 || !strings.Contains(out, "partial chain: ") || !strings.Contains(out, rootSubject) || !strings.Contains(out, "1 added") {
		t.Errorf("with --allow-partial-chain: exit %d\n%s%s", code, out, errOut)
	}

	code, _, errOut = runCLI(t, "init", "--trust", interFile, "--root", t.TempDir(), "--trust-store", "dir:/capath")
	requireErrorLine(t, 1, code, errOut, interFile, rootSubject, "--allow-partial-chain")
	if code, out, errOut := runCLI(t, "init", "--trust", interFile, "--root", t.TempDir(), "--trust-store", "dir:/capath", "--allow-partial-chain"); code != 0 {
		t.Errorf("init --allow-partial-chain: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "init", "--allow-partial-chain")
	requireUsageError(t, code, errOut, "--allow-partial-chain", "--trust")
}

// TestTrustRelativeDirStore: --store dir:capath is ./capath with --root /,
// and a usage error with another --root; nothing is written at /capath.
func TestTrustRelativeDirStore(t *testing.T) {
	caFile := testutil.WriteFile(t, t.TempDir(), "ca.pem", testutil.CertPEM(testutil.NewCA(t, "Relative CLI CA").Cert))
	code, _, errOut := runCLI(t, "trust", "install", "--root", t.TempDir(), "--store", "dir:capath", caFile)
	requireUsageError(t, code, errOut, "--store", "dir:capath")
	code, _, errOut = runCLI(t, "init", "--trust", caFile, "--root", t.TempDir(), "--trust-store", "dir:capath")
	requireUsageError(t, code, errOut, "--trust-store", "dir:capath")

	cwd := t.TempDir()
	t.Chdir(cwd)
	code, out, errOut := runCLI(t, "trust", "install", "--store", "dir:capath", caFile)
	if code != 0 || !strings.Contains(out, filepath.Join(cwd, "capath")) {
		t.Fatalf("install into ./capath: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(cwd, "capath", "ca-certificates.bundle")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat("/capath"); !os.IsNotExist(err) {
		t.Errorf("/capath: %v", err)
	}
}

// TestTrustRebuildSplitsBundle: a bundle copied into a dir: store is split
// by trust rebuild, and the output says where the original went.
func TestTrustRebuildSplitsBundle(t *testing.T) {
	ca := testutil.NewCA(t, "Split CLI Root")
	inter := ca.Intermediate(t, "Split CLI Intermediate")
	root := t.TempDir()
	testutil.WriteFile(t, filepath.Join(root, "capath"), "chain.pem", testutil.CertPEM(inter.Cert, ca.Cert))
	code, out, errOut := runCLI(t, "trust", "rebuild", "--root", root, "--store", "dir:/capath")
	if code != 0 || !strings.Contains(out, "split /capath/chain.pem") || !strings.Contains(out, "/capath/chain.pem.split") {
		t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "trust", "list", "--root", root, "--store", "dir:/capath")
	if code != 0 || strings.Count(out, "CN=Split CLI") != 2 {
		t.Errorf("list after the split:\n%s", out)
	}
}
