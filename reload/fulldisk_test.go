package reload

import (
	"path/filepath"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestCopyToFullDisk: `certinit init --copy-to DIR` of a new pair into a
// DIR whose file system is full (a small tmpfs in a private mount
// namespace) fails with exit status 1, leaves the copies of the previous
// run byte for byte as they were and no temporary file behind.
func TestCopyToFullDisk(t *testing.T) {
	src := t.TempDir()
	pair := func(name string) []string {
		ca := testutil.NewCA(t, "Full Disk CA")
		leaf, k := ca.Issue(t, testutil.CertOpts{DNSNames: []string{"localhost"}})
		dir := filepath.Join(src, name)
		return []string{testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(leaf, ca.Cert)), testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, k))}
	}
	args := append(append([]string{testutil.BuildCertinit(t)}, pair("old")...), pair("new")...)
	code, stderr, before, after := testutil.FullDisk(t, "copy",
		`"$1" init --cert "$2" --key "$3" --copy-to "$mnt/copy"`,
		`"$1" init --cert "$4" --key "$5" --copy-to "$mnt/copy"`,
		args...)
	if code != 1 {
		t.Errorf("exit status %d, want 1:\n%s", code, stderr)
	}
	if before != after {
		t.Errorf("the copies changed (- before, + after):\n%s", testutil.DiffLines(before, after))
	}
}
