package truststore

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// inNamespace runs certinit trust with args in a private mount namespace
// after the shell commands in setup (which see the root as $1), and returns
// exit code and stderr.
func inNamespace(t *testing.T, root, setup string, args ...string) (int, string) {
	t.Helper()
	testutil.RequireRoot(t)
	unshare := testutil.RequireTool(t, "unshare")
	bin := testutil.BuildCertinit(t)
	script := "set -e; mount --make-rprivate /\n" + setup + "\nshift\nexec \"$@\""
	cmd := exec.Command(unshare, append([]string{"-m", "sh", "-c", script, "sh", root, bin, "trust"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), errb.String()
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
			root := mustMkdir(t, filepath.Join(parent, "root"))
			s := openStore(t, root, tc.spec)
			install(t, s, present)
			seed := mustMkdir(t, filepath.Join(parent, "seed"))
			if tc.spec == "dir:/capath" {
				copyTree(t, filepath.Join(root, "capath"), seed)
			}
			setup := tc.setup + "\ncp -a \"$1\" \"$1/../before\""
			// The tree as the command sees it, copied out before and after.
			code, stderr := inNamespace(t, root, setup+"\n", append([]string{"install", "--root", root, "--store", tc.spec}, tc.files...)...)
			lines := errorLines(stderr)
			if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d, want 1 and one error line saying %q:\n%s", code, tc.want, stderr)
			}
			// Installing what is there needs no write and succeeds (not on
			// Debian's full disk, where the tmpfs hides the local file).
			if tc.name != "full disk, debian" {
				code, stderr = inNamespace(t, root, tc.setup, "install", "--root", root, "--store", tc.spec, present)
				if code != 0 {
					t.Errorf("installing a present CA: exit %d:\n%s", code, stderr)
				}
			}
			if !strings.HasPrefix(tc.name, "full disk") {
				if before, after := testutil.TreeDigest(t, filepath.Join(parent, "before"), false), testutil.TreeDigest(t, root, false); before != after {
					t.Errorf("store changed:\n%s", diffLines(before, after))
				}
			}
		})
	}
	t.Run("unprivileged user", func(t *testing.T) {
		base, err := os.MkdirTemp("", "certinit-unpriv-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(base) })
		os.Chmod(base, 0o755)
		data, _ := os.ReadFile(testutil.BuildCertinit(t))
		bin := filepath.Join(base, "certinit")
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		root := mustMkdir(t, filepath.Join(base, "root"))
		install(t, openStore(t, root, "dir:/capath"), present)
		input := testutil.WriteFile(t, base, "new.pem", mustRead(t, f))
		before := testutil.TreeDigest(t, root, false)
		cmd := exec.Command(bin, "trust", "install", "--root", root, "--store", "dir:/capath", input)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err = cmd.Run()
		lines := errorLines(errb.String())
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || len(lines) != 1 || !strings.Contains(lines[0], "permission denied") {
			t.Errorf("exit %v, want 1 and one line saying permission denied:\n%s", err, errb.String())
		}
		if after := testutil.TreeDigest(t, root, false); after != before {
			t.Errorf("store changed:\n%s", diffLines(before, after))
		}
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
