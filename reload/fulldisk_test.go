package reload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestCopyToFullDisk: `certinit init --copy-to DIR` of a new pair into a
// DIR whose file system is full (a small tmpfs in a private mount
// namespace) fails with exit status 1, leaves the copies of the previous
// run byte for byte as they were and no temporary file behind.
func TestCopyToFullDisk(t *testing.T) {
	bin := testutil.BuildCertinit(t)
	src, out := t.TempDir(), t.TempDir()
	pair := func(name string) (cert, key string) {
		ca := testutil.NewCA(t, "Full Disk CA")
		leaf, k := ca.Issue(t, testutil.CertOpts{DNSNames: []string{"localhost"}})
		dir := filepath.Join(src, name)
		return testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(leaf, ca.Cert)), testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, k))
	}
	oldCert, oldKey := pair("old")
	newCert, newKey := pair("new")
	o, err := testutil.InMountNamespace(t, `
mnt=$(mktemp -d)
mount -t tmpfs -o size=64k tmpfs "$mnt"
"$1" init --cert "$2" --key "$3" --copy-to "$mnt/copy"
cp -a "$mnt/copy" "$6/before"
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
code=0; "$1" init --cert "$4" --key "$5" --copy-to "$mnt/copy" 2>"$6/stderr" || code=$?
echo $code > "$6/code"
cp -a "$mnt/copy" "$6/after"
`, bin, oldCert, oldKey, newCert, newKey, out)
	if err != nil {
		t.Fatalf("namespace script: %v\n%s", err, o)
	}
	code, _ := os.ReadFile(filepath.Join(out, "code"))
	stderr, _ := os.ReadFile(filepath.Join(out, "stderr"))
	if strings.TrimSpace(string(code)) != "1" {
		t.Errorf("exit status %s, want 1:\n%s", code, stderr)
	}
	// Equal trees: the same files with the same bytes, and nothing else
	// (no temporary file).
	if before, after := testutil.TreeDigest(t, filepath.Join(out, "before"), false), testutil.TreeDigest(t, filepath.Join(out, "after"), false); before != after {
		t.Errorf("the copies changed:\n%s\n---\n%s", before, after)
	}
}
