package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// InMountNamespace runs a shell script in a private mount namespace
// (unshare -m; root only), where it may mount a small tmpfs and fill it up
// without touching the machine's mounts, which vanish with the namespace.
// The script runs under sh -e after the mount tree is made private, sees
// args as $1, $2, ..., and has PATH set to the system directories. It
// returns the script's combined output and its exit error.
func InMountNamespace(t testing.TB, script string, args ...string) ([]byte, error) {
	t.Helper()
	RequireRoot(t)
	unshare := RequireTool(t, "unshare")
	cmd := exec.Command(unshare, append([]string{"-m", "sh", "-ec", "mount --make-rprivate /\n" + script, "sh"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	return cmd.CombinedOutput()
}

// FullDisk runs two shell commands in a private mount namespace (see
// InMountNamespace) on a 64 KiB tmpfs mounted at $mnt: first, which must
// succeed, then, after the file system was filled up, then. args are $1,
// $2, ... of both. It returns the exit status and standard error of then,
// and digests (TreeDigest) of $mnt/$dir after first and after then: equal
// digests mean the same files with the same bytes and modes, and nothing
// else (no temporary file).
func FullDisk(t testing.TB, dir, first, then string, args ...string) (code int, stderr, before, after string) {
	t.Helper()
	out := t.TempDir()
	o, err := InMountNamespace(t, `
out=$1; shift
mnt=$(mktemp -d)
mount -t tmpfs -o size=64k tmpfs "$mnt"
`+first+`
cp -a "$mnt/`+dir+`" "$out/before"
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
code=0; { `+then+`; } 2>"$out/stderr" || code=$?
echo $code > "$out/code"
cp -a "$mnt/`+dir+`" "$out/after"
`, append([]string{out}, args...)...)
	if err != nil {
		t.Fatalf("namespace script: %v\n%s", err, o)
	}
	c, err := os.ReadFile(filepath.Join(out, "code"))
	if err != nil {
		t.Fatal(err)
	}
	code, err = strconv.Atoi(strings.TrimSpace(string(c)))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := os.ReadFile(filepath.Join(out, "stderr"))
	return code, string(e), TreeDigest(t, filepath.Join(out, "before"), false), TreeDigest(t, filepath.Join(out, "after"), false)
}
