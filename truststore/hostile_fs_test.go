package truststore

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// inNamespace runs certinit trust with args, logging as JSON, in a private
// mount namespace after the shell commands in setup (which see the root
// as $1).
func inNamespace(t *testing.T, root, setup string, args ...string) testutil.Result {
	t.Helper()
	testutil.RequireRoot(t)
	unshare := testutil.RequireTool(t, "unshare")
	bin := testutil.BuildCertinit(t)
	script := "set -e; mount --make-rprivate /\n" + setup + "\nshift\nexec \"$@\""
	cmd := exec.Command(unshare, append([]string{"-m", "sh", "-c", script, "sh", root, bin, "--log-format", "json", "trust"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	return testutil.Run(t, cmd)
}

// TestUnwritableStore: a store certinit may not write — its hash directory
// on a read-only bind mount, the whole --root read-only, a store owned by
// root for an unprivileged user, a full disk (a small tmpfs) — is one clear
// error line, found before anything is written: the tree is byte-for-byte
// as it was. Installing what is already there still succeeds (nothing to
// write).
func TestUnwritableStore(t *testing.T) {
	testutil.RequireRoot(t)
	in := t.TempDir()
	present, _ := writeCA(t, in, "present.pem", "Already Present CA")
	f, _ := writeCA(t, in, "new.pem", "Unwritable CA")
	var many bytes.Buffer
	for i := range 150 {
		many.Write(testutil.CertPEM(testutil.NewCA(t, fmt.Sprintf("Full Disk CA %d", i)).Cert))
	}
	big := testutil.WriteFile(t, in, "many.pem", many.Bytes())
	for _, tc := range []struct {
		name, spec, setup, want string
		files                   []string
	}{
		{"hash dir read-only", "debian", `mount --bind "$1/etc/ssl/certs" "$1/etc/ssl/certs"; mount -o remount,bind,ro "$1/etc/ssl/certs"`, "read-only file system", []string{f}},
		{"root read-only", "debian", `mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"`, "read-only file system", []string{f}},
		{"dir: store read-only", "dir:/capath", `mount --bind "$1/capath" "$1/capath"; mount -o remount,bind,ro "$1/capath"`, "read-only file system", []string{f}},
		{"full disk", "dir:/capath", `mount -t tmpfs -o size=256k tmpfs "$1/capath"; cp -a "$1/../seed/." "$1/capath/"`, "not enough free space", []string{big}},
		{"full disk, debian", "debian", `mount -t tmpfs -o size=256k tmpfs "$1/usr/local/share/ca-certificates"`, "not enough free space", []string{big}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			root := testutil.Mkdir(t, filepath.Join(parent, "root"))
			s := openStore(t, root, tc.spec)
			install(t, s, present)
			seed := testutil.Mkdir(t, filepath.Join(parent, "seed"))
			if tc.spec == "dir:/capath" {
				testutil.CopyTree(t, filepath.Join(root, "capath"), seed)
			}
			setup := tc.setup + "\ncp -a \"$1\" \"$1/../before\""
			// The tree as the command sees it, copied out before and after.
			r := inNamespace(t, root, setup+"\n", append([]string{"install", "--root", root, "--store", tc.spec}, tc.files...)...)
			if lines := r.Logs.Lines(); r.Code != 1 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d, want 1 and one error line saying %q:\n%s", r.Code, tc.want, r.Stderr)
			}
			// Installing what is there needs no write and succeeds (not on
			// Debian's full disk, where the tmpfs hides the local file).
			if tc.name != "full disk, debian" {
				if r := inNamespace(t, root, tc.setup, "install", "--root", root, "--store", tc.spec, present); r.Code != 0 {
					t.Errorf("installing a present CA: exit %d:\n%s", r.Code, r.Stderr)
				}
			}
			if !strings.HasPrefix(tc.name, "full disk") {
				if before, after := testutil.TreeDigest(t, filepath.Join(parent, "before"), false), testutil.TreeDigest(t, root, false); before != after {
					t.Errorf("store changed:\n%s", testutil.DiffLines(before, after))
				}
			}
		})
	}
	t.Run("unprivileged user", func(t *testing.T) {
		base := testutil.ReadableDir(t)
		bin := testutil.CopyCertinit(t, base)
		root := testutil.Mkdir(t, filepath.Join(base, "root"))
		install(t, openStore(t, root, "dir:/capath"), present)
		input := testutil.WriteFile(t, base, "new.pem", testutil.ReadFile(t, f))
		before := testutil.TreeDigest(t, root, false)
		cmd := exec.Command(bin, "--log-format", "json", "trust", "install", "--root", root, "--store", "dir:/capath", input)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		r := testutil.Run(t, cmd)
		if lines := r.Logs.Lines(); r.Code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "permission denied") {
			t.Errorf("exit %d, want 1 and one line saying permission denied:\n%s", r.Code, r.Stderr)
		}
		if after := testutil.TreeDigest(t, root, false); after != before {
			t.Errorf("store changed:\n%s", testutil.DiffLines(before, after))
		}
	})
}
