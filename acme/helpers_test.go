package acme

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// mustNew makes an issuer whose log the test reads by level and attribute.
func mustNew(t *testing.T, cfg Config) (Issuer, *testutil.Logs) {
	t.Helper()
	logs, log := testutil.NewLogs(t)
	iss, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return iss, logs
}

func obtain(t *testing.T, iss Issuer) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := iss.Obtain(ctx)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	return res
}

// checkOutput verifies one output directory: four files with the right
// modes, fullchain = cert + chain, the key matches the leaf and has the
// wanted type, and the leaf chains to roots for name, which the real
// openssl verify confirms.
func checkOutput(t *testing.T, dir string, roots *x509.CertPool, rootFile, name string, kt KeyType, keyPerm os.FileMode) *x509.Certificate {
	t.Helper()
	f := filesIn(dir)
	for p, perm := range map[string]os.FileMode{f.Cert: 0o644, f.Chain: 0o644, f.FullChain: 0o644, f.Key: keyPerm} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != perm || !fi.Mode().IsRegular() {
			t.Errorf("%s: mode %v, want regular %v", p, fi.Mode(), perm)
		}
	}
	certPEM, _ := os.ReadFile(f.Cert)
	chainPEM, _ := os.ReadFile(f.Chain)
	full, _ := os.ReadFile(f.FullChain)
	if !bytes.Equal(full, append(bytes.Clone(certPEM), chainPEM...)) {
		t.Errorf("fullchain.pem is not cert.pem + chain.pem")
	}
	leafs, err := pemfile.ReadCertificates(f.Cert)
	if err != nil || len(leafs) != 1 {
		t.Fatalf("cert.pem: %v (%d certificates)", err, len(leafs))
	}
	chain, err := pemfile.ReadCertificates(f.Chain)
	if err != nil {
		t.Fatalf("chain.pem: %v", err)
	}
	key, err := pemfile.ReadKey(f.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafs[0]
	if !pemfile.KeyMatches(leaf, key) {
		t.Errorf("privkey.pem does not match cert.pem")
	}
	if keyTypeOf(key) != kt {
		t.Errorf("key is %s, want %s", pemfile.KeyDescription(key.Public()), kt)
	}
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}); err != nil {
		t.Errorf("leaf does not verify for %s: %v", name, err)
	}
	openssl := testutil.RequireTool(t, "openssl")
	args := []string{"verify", "-CAfile", rootFile, "-untrusted", f.Chain, f.Cert}
	switch {
	case net.ParseIP(name) != nil:
		args = append([]string{"verify", "-verify_ip", name}, args[1:]...)
	case strings.Contains(name, ".") || name == "localhost":
		args = append([]string{"verify", "-verify_hostname", name}, args[1:]...)
	}
	if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
		t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return leaf
}

// snapshot records each file's bytes and modification time under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, _ := d.Info()
		data, _ := os.ReadFile(p)
		out[p] = fi.ModTime().String() + "\n" + string(data)
		return nil
	})
	return out
}

// writeRoot writes a CA file for openssl verify.
func writeRoot(t *testing.T, pemData []byte) string {
	return testutil.WriteFile(t, t.TempDir(), "root.pem", pemData)
}
