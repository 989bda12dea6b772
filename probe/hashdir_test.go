package probe

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/testutil"
)

// TestHashDirAgreesWithOpenSSL: for capath directories that openssl rehash
// linked and that were then changed, the diagnosis finds a problem for a
// CA exactly when `openssl verify -CApath` cannot find it. Names OpenSSL's
// lookup never opens (upper-case hex, a number with a leading zero) are
// not links, however `openssl rehash` would treat them.
func TestHashDirAgreesWithOpenSSL(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	crl := testutil.NewCA(t, "Another CA").CRL(t)
	tests := []struct {
		name   string
		change func(dir, hash string) error
		want   []string // one problem saying each; HASH stands for the hash
		found  []bool   // which of a.pem and b.pem openssl verify -CApath finds
	}{
		{"as openssl rehash left it", func(string, string) error { return nil }, nil, []bool{true, true}},
		{"first link removed", func(dir, hash string) error {
			return os.Remove(filepath.Join(dir, hash+".0"))
		}, []string{"a.pem has no hash link HASH.0", "hash link HASH.1 follows a gap"}, []bool{false, false}},
		{"second link removed", func(dir, hash string) error {
			return os.Remove(filepath.Join(dir, hash+".1"))
		}, []string{"b.pem has no hash link HASH.0"}, []bool{true, false}},
		{"second link renamed to a leading zero", func(dir, hash string) error {
			return os.Rename(filepath.Join(dir, hash+".1"), filepath.Join(dir, hash+".01"))
		}, []string{"b.pem has no hash link HASH.0"}, []bool{true, false}},
		{"second link renamed to upper-case hex", func(dir, hash string) error {
			return os.Rename(filepath.Join(dir, hash+".1"), filepath.Join(dir, strings.ToUpper(hash)+".1"))
		}, []string{"b.pem has no hash link HASH.0"}, []bool{true, false}},
		{"first file in DER", func(dir, hash string) error {
			return rewrite(filepath.Join(dir, "a.pem"), func(data []byte) []byte {
				b, _ := pem.Decode(data)
				return b.Bytes
			})
		}, []string{"hash link HASH.0: DER"}, []bool{false, false}},
		{"a corrupt block after the first certificate", func(dir, hash string) error {
			return rewrite(filepath.Join(dir, "a.pem"), func(data []byte) []byte {
				return append(data, "-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n"...)
			})
		}, []string{"hash link HASH.0: OpenSSL's capath lookup cannot load it"}, []bool{true, false}},
		{"first link removed from a file that also holds a CRL", func(dir, hash string) error {
			if err := rewrite(filepath.Join(dir, "a.pem"), func(data []byte) []byte { return append(data, crl...) }); err != nil {
				return err
			}
			return os.Remove(filepath.Join(dir, hash+".0"))
		}, []string{"a.pem has no hash link HASH.0", "hash link HASH.1 follows a gap"}, []bool{false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Two roots with one subject share a hash: links HASH.0 and
			// HASH.1. openssl makes them, with the key identifiers that
			// let its lookup tell the two apart.
			dir := t.TempDir()
			var files []string
			for _, name := range []string{"a.pem", "b.pem"} {
				f := filepath.Join(dir, name)
				if out, err := exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
					"-keyout", os.DevNull, "-subj", "/CN=Twin Root", "-days", "1", "-out", f).CombinedOutput(); err != nil {
					t.Fatalf("openssl req: %v\n%s", err, out)
				}
				files = append(files, f)
			}
			testutil.OpenSSLRehash(t, dir)
			hash := testutil.SubjectHash(t, files[0])
			if err := tc.change(dir, hash); err != nil {
				t.Fatal(err)
			}

			probs := dirProblems(t, dir)
			if len(probs) != len(tc.want) {
				t.Errorf("problems %q, want %d", probs, len(tc.want))
			}
			for i := range min(len(probs), len(tc.want)) {
				if w := strings.ReplaceAll(tc.want[i], "HASH", hash); !strings.Contains(probs[i], w) {
					t.Errorf("problem %q does not say %q", probs[i], w)
				}
			}
			for i, f := range files {
				err := exec.Command(openssl, "verify", "-CApath", dir, f).Run()
				if found := err == nil; found != tc.found[i] {
					t.Errorf("openssl verify -CApath finds %s: %v, want %v", filepath.Base(f), found, tc.found[i])
				}
			}
		})
	}
}

// TestHashDirBundles: a file of several certificates in a capath is a
// problem only when some of them have no file of their own (a system
// store's bundle beside its linked files is not), and the fix is the
// dir: store's rebuild, or in the system's trust store, which that would
// turn into a dir: store, trust install of the file.
func TestHashDirBundles(t *testing.T) {
	p := newPKI(t, "Bundled")
	bundle := testutil.CertPEM(p.root.Cert, p.inter.Cert)

	linked := t.TempDir()
	testutil.WriteFile(t, linked, "root.pem", testutil.CertPEM(p.root.Cert))
	testutil.WriteFile(t, linked, "inter.pem", testutil.CertPEM(p.inter.Cert))
	testutil.WriteFile(t, linked, "ca-certificates.crt", bundle)
	testutil.OpenSSLRehashCode(t, linked)
	if probs := dirProblems(t, linked); len(probs) > 0 {
		t.Errorf("a bundle beside linked files: %q", probs)
	}

	root := t.TempDir()
	testutil.WriteFile(t, root, "etc/os-release", []byte("ID=debian\n"))
	system := testutil.Mkdir(t, filepath.Join(root, "etc/ssl/certs"))
	other := t.TempDir()
	for _, tc := range []struct {
		dir, fix string
	}{
		{other, "certinit trust rebuild --store dir:" + other},
		{system, "certinit trust install " + filepath.Join(system, "chain.pem") + ", which adds them to the system store"},
	} {
		testutil.WriteFile(t, tc.dir, "chain.pem", bundle)
		saved := systemRoot
		systemRoot = root
		probs := dirProblems(t, tc.dir)
		systemRoot = saved
		if len(probs) != 1 || !strings.Contains(probs[0], "chain.pem holds 2 certificates, 2 of them in no file of their own") || !strings.Contains(probs[0], tc.fix) {
			t.Errorf("%s: problems %q, want one naming %q", tc.dir, probs, tc.fix)
		}
	}
}

// rewrite replaces the bytes of the file at path with edit's.
func rewrite(path string, edit func([]byte) []byte) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, edit(data), 0o644)
}

// dirProblems is hashDirProblems of dir with what the lookup opens there,
// as check reads it.
func dirProblems(t *testing.T, dir string) []string {
	t.Helper()
	opened, err := hashlink.LookupDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return hashDirProblems(dir, opened)
}
