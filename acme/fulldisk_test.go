package acme

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestObtainFullDisk: `certinit acme obtain` of a new certificate into an
// output directory whose file system is full (a small tmpfs in a private
// mount namespace) fails with exit status 1, leaves the files of the
// previous run byte for byte as they were and no temporary file behind.
func TestObtainFullDisk(t *testing.T) {
	bin := testutil.BuildCertinit(t)
	cache, out := t.TempDir(), t.TempDir()
	o, err := testutil.InMountNamespace(t, `
mnt=$(mktemp -d)
mount -t tmpfs -o size=64k tmpfs "$mnt"
"$1" acme obtain --issuer local --domain full.example.test --out "$mnt/live" --cache "$2"
cp -a "$mnt/live" "$3/before"
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
code=0; "$1" acme obtain --issuer local --domain other.example.test --out "$mnt/live" --cache "$2" 2>"$3/stderr" || code=$?
echo $code > "$3/code"
cp -a "$mnt/live" "$3/after"
`, bin, cache, out)
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
		t.Errorf("the output directory changed:\n%s\n---\n%s", before, after)
	}
}
