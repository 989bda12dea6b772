package hashlink

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/testutil"
)

// TestRehashReadOnly: a directory certinit may not write (a read-only bind
// mount in a private mount namespace, and a root-owned directory for an
// unprivileged user) is one clear error line and stays as it was.
func TestRehashReadOnly(t *testing.T) {
	testutil.RequireRoot(t)
	unshare := testutil.RequireTool(t, "unshare")
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	// Where the unprivileged user reaches the directory and the binary.
	base := testutil.ReadableDir(t)
	bin := testutil.CopyCertinit(t, base)
	dir := testutil.Mkdir(t, filepath.Join(base, "capath"))
	testutil.WriteFile(t, dir, "ca.pem", certPEM(t, s, cnName("Read-only CA"), 1))
	testutil.WriteFile(t, dir, "new.pem", certPEM(t, s, cnName("Needs a link"), 2))
	if err := os.Symlink("ca.pem", filepath.Join(dir, "00000000.0")); err != nil { // stale
		t.Fatal(err)
	}
	before := testutil.TreeDigest(t, base, true)
	for _, tc := range []struct {
		name, want string
		cmd        *exec.Cmd
	}{
		{"read-only bind mount", "read-only file system", exec.Command(unshare, "-m", "sh", "-c",
			`set -e; mount --make-rprivate /; mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"; exec "$2" rehash "$1"`, "sh", dir, bin)},
		{"unprivileged user", "permission denied", exec.Command(bin, "rehash", dir)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unprivileged user" {
				tc.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}
			r := testutil.Run(t, tc.cmd)
			msg := strings.TrimSpace(r.Stderr)
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", r.Code, msg)
			}
			if strings.Contains(msg, "\n") || !strings.Contains(msg, dir) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, dir, tc.want)
			}
			if after := testutil.TreeDigest(t, base, true); after != before {
				t.Errorf("the directory changed (- before, + after):\n%s", testutil.DiffLines(before, after))
			}
		})
	}
}

// TestRehashFullDisk: on a file system with no room left (a small tmpfs in
// a private mount namespace) certinit rehash fails with one clear line and
// leaves the directory in its last good state: every link that was there
// and right is still there, nothing dangles, no temporary entry is left.
func TestRehashFullDisk(t *testing.T) {
	testutil.RequireRoot(t)
	unshare := testutil.RequireTool(t, "unshare")
	bin := testutil.BuildCertinit(t)
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for i := range 40 {
		testutil.WriteFile(t, src, fmt.Sprintf("c%02d.pem", i), certPEM(t, s, cnName(fmt.Sprintf("Full Disk CA %d", i)), int64(i+1)))
	}
	out := t.TempDir()
	// Inside the namespace: a 1 MiB tmpfs, the certificates, links for the
	// first half, then a filler that takes every free block and inode, then
	// rehash; the result is copied out for inspection.
	script := `set -e
mount --make-rprivate /
mnt="$3/mnt"; mkdir "$mnt"
mount -t tmpfs -o size=1m,nr_inodes=128 tmpfs "$mnt"
mkdir "$mnt/capath"
cp "$1"/*.pem "$mnt/capath/"
for f in "$mnt"/capath/c0*.pem "$mnt"/capath/c1*.pem; do
  h=$(openssl x509 -noout -subject_hash -in "$f"); ln -s "$(basename "$f")" "$mnt/capath/$h.0"
done
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
i=0; while touch "$mnt/i$i" 2>/dev/null; do i=$((i+1)); done
code=0; "$2" --log-format json rehash "$mnt/capath" 2>"$3/stderr" || code=$?
echo $code > "$3/code"
cp -a "$mnt/capath" "$3/after"
`
	cmd := exec.Command(unshare, "-m", "sh", "-c", script, "sh", src, bin, out)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("namespace script: %v\n%s", err, o)
	}
	code, _ := os.ReadFile(filepath.Join(out, "code"))
	stderr, _ := os.ReadFile(filepath.Join(out, "stderr"))
	errLines := testutil.JSONLogs(t, string(stderr)).Lines() // what is not a log record
	if strings.TrimSpace(string(code)) != "1" || len(errLines) != 1 || !strings.Contains(errLines[0], "no space left on device") {
		t.Fatalf("exit %s, want 1 and one error line saying no space left:\n%s", code, stderr)
	}
	after := filepath.Join(out, "after")
	links := hashLinks(t, after)
	if len(links) < 20 {
		t.Errorf("only %d links left; the 20 that were right must stay", len(links))
	}
	checkRehashDir(t, after, nil)
	if temps := testutil.Find(t, after, atomicfile.IsTemp); len(temps) > 0 {
		t.Errorf("temporary entries left: %v", temps)
	}
}
