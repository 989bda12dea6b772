package truststore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// These tests hold certinit's Debian store to Debian's real
// update-ca-certificates (run in a private mount namespace on the same
// tree): after certinit, the tool finds nothing to add or remove and
// changes no link; and certinit's result equals what the tool produces
// from the same source files.

const certsDir = "etc/ssl/certs"

// toolAgrees runs the tool on root (already changed by certinit) and
// checks it reports no change, leaves every link as it was and writes the
// same bundle bytes.
func toolAgrees(t *testing.T, root string) {
	t.Helper()
	before := testutil.Links(t, filepath.Join(root, certsDir))
	bundle, _ := os.ReadFile(filepath.Join(root, certsDir, "ca-certificates.crt"))
	out := debianTool(t, root)
	if !strings.Contains(out, "0 added, 0 removed") {
		t.Errorf("update-ca-certificates after certinit did not report 0 added, 0 removed:\n%s", out)
	}
	if d := testutil.DiffMaps(before, testutil.Links(t, filepath.Join(root, certsDir))); d != "" {
		t.Errorf("update-ca-certificates changed links after certinit:\n%s", d)
	}
	after, _ := os.ReadFile(filepath.Join(root, certsDir, "ca-certificates.crt"))
	if !bytes.Equal(bundle, after) {
		t.Errorf("bundle differs from update-ca-certificates' (%d vs %d bytes)", len(bundle), len(after))
	}
}

// sameAsTool copies base, puts certinit's local files into the copy, runs
// the tool there and compares links and bundle with certinit's root.
func sameAsTool(t *testing.T, base, root string, args ...string) {
	t.Helper()
	ref := t.TempDir()
	testutil.CopyTree(t, base, ref)
	local := "usr/local/share/ca-certificates"
	os.RemoveAll(filepath.Join(ref, local))
	testutil.CopyTree(t, filepath.Join(root, local), testutil.Mkdir(t, filepath.Join(ref, local)))
	debianTool(t, ref, args...)
	if d := testutil.DiffMaps(testutil.Links(t, filepath.Join(ref, certsDir)), testutil.Links(t, filepath.Join(root, certsDir))); d != "" {
		t.Errorf("links differ from update-ca-certificates' (- tool only, + certinit only):\n%s", d)
	}
	want, _ := os.ReadFile(filepath.Join(ref, certsDir, "ca-certificates.crt"))
	got, _ := os.ReadFile(filepath.Join(root, certsDir, "ca-certificates.crt"))
	if !bytes.Equal(want, got) {
		t.Errorf("bundle differs from update-ca-certificates' (%d vs %d bytes)", len(got), len(want))
	}
}

func TestDebianEquivalence(t *testing.T) {
	testutil.RequireRoot(t)
	in := t.TempDir()
	one, _ := writeCA(t, in, "one.pem", "Example Private Root CA")
	// Two roots with one subject: a hash collision (HASH.0 and HASH.1).
	twinA, _ := writeCA(t, in, "twin-a.pem", "Twin CA")
	twinB, _ := writeCA(t, in, "twin-b.pem", "Twin CA")
	root3, ca3 := writeCA(t, in, "three.pem", "Chain Root")
	inter := ca3.Intermediate(t, "Chain Intermediate")
	chain := testutil.WriteFile(t, in, "chain.pem", append(testutil.CertPEM(inter.Cert), testutil.CertPEM(ca3.Cert)...))
	der := testutil.WriteFile(t, in, "der.cer", testutil.NewCA(t, "DER Root").Cert.Raw)

	tests := []struct {
		name  string
		files []string
	}{
		{"one CA, bundle byte-identical", []string{one}},
		{"hash collision, chain and DER", []string{twinA, chain, twinB, root3, der}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := stockDebianRoot(t)
			root := t.TempDir()
			testutil.CopyTree(t, base, root)
			s := openStore(t, root, "auto")
			if s.Layout().Name != "debian" {
				t.Fatalf("detected %s, want debian", s.Layout().Name)
			}
			install(t, s, tc.files...)
			checkConsistent(t, s)
			sameAsTool(t, base, root)
			toolAgrees(t, root)
			// A second install changes nothing.
			d := testutil.TreeDigest(t, root, false)
			if rep := install(t, s, tc.files...); len(rep.Added) != 0 {
				t.Errorf("second install added %d certificates", len(rep.Added))
			}
			if testutil.TreeDigest(t, root, false) != d {
				t.Error("second install changed the tree")
			}
		})
	}
}

func TestDebianRemoveAndFresh(t *testing.T) {
	testutil.RequireRoot(t)
	in := t.TempDir()
	a, _ := writeCA(t, in, "a.pem", "Twin CA")
	b, _ := writeCA(t, in, "b.pem", "Twin CA")
	c, _ := writeCA(t, in, "c.pem", "Other CA")
	base := stockDebianRoot(t)
	root := t.TempDir()
	testutil.CopyTree(t, base, root)
	s := openStore(t, root, "debian")
	install(t, s, a, b, c)
	if _, err := s.Remove(context.Background(), []string{a}); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	toolAgrees(t, root)
	// Debian keeps a removed certificate's dead links until --fresh; the
	// reference for a removal is therefore a fresh run on the same files.
	rep, err := s.Rebuild(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebuild --fresh: %d links created, %d removed", len(rep.LinksCreated), len(rep.LinksRemoved))
	sameAsTool(t, base, root, "--fresh")
	toolAgrees(t, root)
}

func TestDebianConfFile(t *testing.T) {
	testutil.RequireRoot(t)
	base := stockDebianRoot(t)
	root := t.TempDir()
	testutil.CopyTree(t, base, root)
	confPath := filepath.Join(root, "etc/ca-certificates.conf")
	data, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	// Reverse the selection (the bundle follows the file's order),
	// deselect one certificate and list one that does not exist.
	var sel, out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(l, "mozilla/") {
			sel = append(sel, l)
		}
	}
	for i := len(sel) - 1; i > 0; i-- {
		out = append(out, sel[i])
	}
	out = append(out, "!"+sel[0], "", "mozilla/Not_There.crt")
	testutil.WriteFile(t, filepath.Join(root, "etc"), "ca-certificates.conf", []byte(strings.Join(out, "\n")+"\n"))
	in := t.TempDir()
	ca, _ := writeCA(t, in, "ca.pem", "Conf Test CA")
	// An administrator's file in a subdirectory, without a final newline
	// and with CRLF line ends: Debian copies it as it is plus "\n".
	admin := strings.ReplaceAll(strings.TrimSuffix(string(testutil.CertPEM(testutil.NewCA(t, "Admin CA").Cert)), "\n"), "\n", "\r\n")
	testutil.WriteFile(t, filepath.Join(root, "usr/local/share/ca-certificates/site"), "admin.crt", []byte(admin))
	s := openStore(t, root, "auto")
	install(t, s, ca)
	checkConsistent(t, s)
	if _, err := os.Lstat(filepath.Join(root, certsDir, strings.TrimSuffix(strings.TrimPrefix(sel[0], "mozilla/"), ".crt")+".pem")); err == nil {
		t.Error("the link of a deselected certificate is still there")
	}
	toolAgrees(t, root)
	// Same against a tool run from the same sources.
	withConf := t.TempDir()
	testutil.CopyTree(t, base, withConf)
	testutil.WriteFile(t, filepath.Join(withConf, "etc"), "ca-certificates.conf", []byte(strings.Join(out, "\n")+"\n"))
	sameAsTool(t, withConf, root)
}

func TestDebianEmptyRoot(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	in := t.TempDir()
	ca := testutil.NewCA(t, "Scratch Root")
	inter := ca.Intermediate(t, "Scratch Intermediate")
	f := testutil.WriteFile(t, in, "chain.pem", testutil.CertPEM(inter.Cert, ca.Cert))
	s := openStore(t, root, "auto")
	install(t, s, f)
	checkConsistent(t, s)
	got := bundleCerts(t, filepath.Join(root, certsDir, "ca-certificates.crt"))
	if len(got) != 2 {
		t.Fatalf("bundle holds %d certificates, want 2", len(got))
	}
	// Without ca-certificates.conf the tool starts fresh every time (and
	// so reports what it re-added); it must still end with certinit's
	// links and bundle.
	before := testutil.Links(t, filepath.Join(root, certsDir))
	bundle, _ := os.ReadFile(filepath.Join(root, certsDir, "ca-certificates.crt"))
	debianTool(t, root)
	if d := testutil.DiffMaps(before, testutil.Links(t, filepath.Join(root, certsDir))); d != "" {
		t.Errorf("tool changed links:\n%s", d)
	}
	after, _ := os.ReadFile(filepath.Join(root, certsDir, "ca-certificates.crt"))
	if !bytes.Equal(bundle, after) {
		t.Error("tool wrote a different bundle")
	}
}

// TestLocalDirLinkedToCertsDir: with the local directory a link to the
// links directory (one directory reached by two paths, locked once), every
// install succeeds and leaves a consistent store.
func TestLocalDirLinkedToCertsDir(t *testing.T) {
	root := stockDebianRoot(t)
	local := filepath.Join(root, "usr/local/share/ca-certificates")
	if err := os.RemoveAll(local); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/ssl/certs", local); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, root, "debian")
	for i := range 5 {
		f, _ := writeCA(t, t.TempDir(), "ca.pem", fmt.Sprintf("Linked Local %d", i))
		install(t, s, f)
	}
	checkConsistent(t, s)
}
