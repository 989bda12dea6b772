package hashlink

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/testutil"
)

// Hostile input for certinit rehash and certinit hash: every case gets a
// clear error or a bounded, correct result (the links openssl rehash makes
// where openssl survives the input), and nothing outside the directory is
// touched.

// snapshot describes every entry under dir (type, mode, link target or
// content digest), sorted: equal strings mean untouched trees.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%q %v %v", p, fi.Mode(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:8])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// runCertinit runs the certinit binary with args and returns its exit code,
// stderr, wall time and peak RSS in KiB (-1 when not measured, see
// peakRSS). mod, when set, adjusts the command first.
func runCertinit(t *testing.T, mod func(*exec.Cmd), args ...string) (code int, stderr string, took time.Duration, rssKiB int64) {
	t.Helper()
	cmd := exec.Command(testutil.BuildCertinit(t), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if mod != nil {
		mod(cmd)
	}
	rss := peakRSS(t, cmd)
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), errb.String(), took, rss()
}

// peakRSS wraps cmd in GNU time to learn the command's own peak RSS. The
// rusage Go reports for a child is no good here: the child is cloned from
// the test process, and Linux carries the test's high-water mark through
// exec. Without /usr/bin/time the figure is -1 and the checks skip it.
func peakRSS(t *testing.T, cmd *exec.Cmd) func() int64 {
	t.Helper()
	gnuTime, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		t.Log("no /usr/bin/time: peak RSS not measured")
		return func() int64 { return -1 }
	}
	out := filepath.Join(t.TempDir(), "rss")
	cmd.Args = append([]string{gnuTime, "-f", "%M", "-o", out, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = gnuTime
	return func() int64 {
		var kib int64
		data, _ := os.ReadFile(out)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if _, err := fmt.Sscan(lines[len(lines)-1], &kib); err != nil {
			return -1
		}
		return kib
	}
}

// certPEM makes one self-signed CA certificate with the given subject.
func certPEM(t *testing.T, s *cg.Signer, subject []byte, serial int64) []byte {
	t.Helper()
	der, err := s.Certificate(cg.Cert{Subject: subject, Serial: serial, IsCA: true})
	if err != nil {
		t.Fatal(err)
	}
	return cg.PEM("CERTIFICATE", der)
}

func cnName(cn string) []byte {
	return cg.Name(cg.Simple(cg.OIDCommonName, cg.TagUTF8String, cn))
}

// TestRehashPlantedLinks: links planted in the directory — to a certificate
// outside it, to a directory, to a system file under a hash link's name,
// to each other in a loop, to themselves — get exactly openssl's links, a
// loop is an error naming the file (openssl fails on it too), and nothing
// outside the directory changes.
func TestRehashPlantedLinks(t *testing.T) {
	outside := t.TempDir()
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, outside, "outside.pem", certPEM(t, s, cnName("Outside CA"), 1))
	testutil.WriteFile(t, outside, "victim.txt", []byte("must stay as it is\n"))
	mustMkdir(t, filepath.Join(outside, "subdir"))
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "inside.pem", certPEM(t, s, cnName("Inside CA"), 2))
	for name, target := range map[string]string{
		"evil.pem":      filepath.Join(outside, "outside.pem"),
		"relative.pem":  "../" + filepath.Base(outside) + "/outside.pem",
		"abcdef01.0":    filepath.Join(outside, "victim.txt"),
		"abcdef02.0":    filepath.Join(outside, "subdir"),
		"abcdef03.r0":   "/nonexistent/x.crl",
		"subdir.pem":    filepath.Join(outside, "subdir"),
		"loop1.pem":     "loop2.pem",
		"loop2.pem":     "loop1.pem",
		"self.crt":      "self.crt",
		"dangling.cer":  "gone.cer",
		"victim.pem":    filepath.Join(outside, "victim.txt"),
		"inside2.pem":   "inside.pem",
		"to-parent.pem": "..",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, outside)
	_, err = compareRehash(t, dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "loop1.pem") || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("error %v: want the loop named", err)
	}
	if after := snapshot(t, outside); after != before {
		t.Errorf("rehash changed files outside the directory:\n%s\n---\n%s", before, after)
	}
}

// TestRehashNonRegularFiles: a FIFO named x.pem (openssl rehash blocks on
// it forever) and a directory named x.crt are skipped with a warning, in
// bounded time; the rest of the directory is linked as openssl links it
// without them.
func TestRehashNonRegularFiles(t *testing.T) {
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "ca.pem", certPEM(t, s, cnName("Beside a FIFO"), 1))
	mustMkdir(t, filepath.Join(dir, "dir.crt"))
	ref := t.TempDir()
	copyDir(t, dir, ref)
	opensslRehash(t, ref)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stderr, took, _ := runCertinit(t, nil, "rehash", dir)
	if code != 0 || took > 10*time.Second {
		t.Fatalf("exit %d after %v:\n%s", code, took, stderr)
	}
	if !strings.Contains(stderr, "fifo.pem") || !strings.Contains(stderr, "not a regular file") || !strings.Contains(stderr, "dir.crt") {
		t.Errorf("no warning for the FIFO and the directory:\n%s", stderr)
	}
	if want, got := symlinks(t, ref), symlinks(t, dir); !equalStrings(want, got) {
		t.Errorf("links %q, openssl without the FIFO %q", got, want)
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func mustMkdir(t *testing.T, p string) string {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// hostileNames are file names a shell script would trip over.
var hostileNames = []string{
	"new\nline.pem", "$(touch PWNED).pem", "`touch PWNED`.pem", "; touch PWNED;.pem",
	"-rf.pem", "--help.pem", " lead and trail .pem", "quote'\"q.pem", "star*.pem",
	"back\\slash.pem", "tab\t.pem", "é-utf8.pem", "\xff-not-utf8.pem", "|pipe>.pem",
	"new\nline.0", "deadbeef.0\n",
}

// TestRehashHostileNames: certificate files whose names carry newlines and
// shell metacharacters are linked exactly as openssl links them, the
// command runs nothing (no PWNED file appears), and every warning stays on
// one line.
func TestRehashHostileNames(t *testing.T) {
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, name := range hostileNames {
		testutil.WriteFile(t, dir, name, certPEM(t, s, cnName(fmt.Sprintf("Hostile %d", i%5)), int64(i+1)))
	}
	testutil.WriteFile(t, dir, "bad\nname.pem", []byte("not a certificate\n"))
	if _, err := compareRehash(t, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	// The command line, run from an empty working directory.
	work := t.TempDir()
	cli, lib := t.TempDir(), t.TempDir()
	copyDir(t, dir, cli)
	copyDir(t, dir, lib)
	if _, err := Rehash(lib, Options{}); err != nil {
		t.Fatal(err)
	}
	code, stderr, _, _ := runCertinit(t, func(c *exec.Cmd) { c.Dir = work }, "rehash", cli)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if want, got := symlinks(t, lib), symlinks(t, cli); len(want) < len(hostileNames)-3 || !equalStrings(want, got) {
		t.Errorf("command line made other links than Rehash:\n%q\n%q", got, want)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "time=") {
			t.Errorf("log line broken by a file name: %q", line)
		}
	}
	for _, d := range []string{work, cli, filepath.Dir(cli)} {
		if _, err := os.Stat(filepath.Join(d, "PWNED")); err == nil {
			t.Fatalf("a file name was executed: %s/PWNED exists", d)
		}
	}
}

// TestRehashHugeFile: a 100 MB file named *.pem is skipped with a warning
// without being read: bounded time and memory, exit 0, and the other
// certificates linked. certinit hash on it is one clear error.
func TestRehashHugeFile(t *testing.T) {
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "ca.pem", certPEM(t, s, cnName("Beside a huge file"), 1))
	huge := filepath.Join(dir, "huge.pem")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// 100 MB of PEM-looking text, so that a reader that does not check the
	// size would have to parse it all.
	block := bytes.Repeat([]byte("-----BEGIN CERTIFICATE-----\n"+strings.Repeat("QUFB", 16)+"\n"), 1<<10)
	for written := 0; written < 100<<20; written += len(block) {
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	code, stderr, took, rss := runCertinit(t, nil, "rehash", dir)
	t.Logf("rehash: exit %d in %v, peak RSS %d KiB", code, took, rss)
	if code != 0 || !strings.Contains(stderr, "huge.pem") || !strings.Contains(stderr, "larger than 64 MiB") {
		t.Errorf("exit %d, want 0 and a skip warning naming huge.pem:\n%s", code, stderr)
	}
	if took > 10*time.Second || rss > 48<<10 {
		t.Errorf("took %v and %d KiB: the huge file was read", took, rss)
	}
	if links := linkMap(t, dir); len(links) != 1 {
		t.Errorf("links %v, want the one for ca.pem", links)
	}
	code, stderr, _, _ = runCertinit(t, nil, "hash", huge)
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, huge) || !strings.Contains(stderr, "larger than") {
		t.Errorf("certinit hash on a 100 MB file: exit %d, want 1 and one line naming it:\n%s", code, stderr)
	}
}

// TestHugeBundle: a PEM file with 100,000 certificates (5,000 in the
// default run) parses completely and quickly in ParseObjects; certinit
// rehash skips it as a bundle (openssl does too) after reading two, and
// certinit hash says how many it holds.
func TestHugeBundle(t *testing.T) {
	n := testutil.Scale(5000, 100000)
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range n {
		buf.Write(certPEM(t, s, cnName(fmt.Sprintf("Bundle CA %d", i)), int64(i+1)))
	}
	start := time.Now()
	objs, err := ParseObjects(buf.Bytes())
	took := time.Since(start)
	if err != nil || len(objs) != n {
		t.Fatalf("ParseObjects: %d objects, %v; want %d", len(objs), err, n)
	}
	t.Logf("ParseObjects: %d certificates (%d MiB) in %v", n, buf.Len()>>20, took)
	if took > time.Duration(n)*time.Millisecond+2*time.Second { // linear, with room for -race
		t.Errorf("ParseObjects took %v for %d certificates", took, n)
	}
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "bundle.pem", buf.Bytes())
	testutil.WriteFile(t, dir, "single.pem", certPEM(t, s, cnName("Single CA"), int64(n+1)))
	if testutil.Scale(1, 0) == 1 {
		compareRehash(t, dir, Options{}) // openssl reads the whole bundle: default run only
	}
	code, stderr, took, rss := runCertinit(t, nil, "rehash", dir)
	t.Logf("certinit rehash beside the bundle: exit %d in %v, peak RSS %d KiB", code, took, rss)
	if code != 0 || !strings.Contains(stderr, "bundle.pem") || !strings.Contains(stderr, "more than one") {
		t.Errorf("exit %d, want 0 and a warning naming bundle.pem:\n%s", code, stderr)
	}
	if links := linkMap(t, dir); len(links) != 1 {
		t.Errorf("links %v, want the one for single.pem", links)
	}
	code, stderr, took, _ = runCertinit(t, nil, "hash", filepath.Join(dir, "bundle.pem"))
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("holds %d certificates", n)) || took > 30*time.Second {
		t.Errorf("certinit hash on the bundle: exit %d after %v:\n%s", code, took, stderr)
	}
}

// TestLongSubject: certificates whose subject is about 64 KiB (one huge
// common name, or thousands of RDNs) hash exactly as openssl hashes them
// when openssl loads them, are refused when it does not, and get openssl's
// links.
func TestLongSubject(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	var rdns []cg.RDN
	for i := range 2000 {
		rdns = append(rdns, cg.Simple(cg.OIDOrgUnit, cg.TagPrintableString, fmt.Sprintf("Unit %026d", i)))
	}
	subjects := map[string][]byte{
		"one-cn.pem":     cnName(strings.Repeat("Long Subject ", 64<<10/13)),
		"many-rdns.pem":  cg.Name(rdns...),
		"bmp-64k.pem":    cg.Name(cg.RDN{{OID: cg.OIDCommonName, Tag: cg.TagBMPString, Value: cg.BMP(strings.Repeat("Ω  x", 8<<10))}}),
		"printable.pem":  cg.Name(cg.Simple(cg.OIDCommonName, cg.TagPrintableString, strings.Repeat("A B", 22<<10))),
		"universal.pem":  cg.Name(cg.RDN{{OID: cg.OIDCommonName, Tag: cg.TagUniversalString, Value: cg.Universal(strings.Repeat("z", 16<<10))}}),
		"just-under.pem": cnName(strings.Repeat("x", 64<<10-20)),
	}
	dir := t.TempDir()
	serial := int64(0)
	for name, subj := range subjects {
		if len(subj) < 60<<10 {
			t.Fatalf("%s: subject of only %d bytes", name, len(subj))
		}
		serial++
		p := testutil.WriteFile(t, dir, name, certPEM(t, s, subj, serial))
		out, err := exec.Command(openssl, "x509", "-noout", "-subject_hash", "-subject_hash_old", "-in", p).Output()
		obj, herr := HashFile(p)
		if err != nil {
			if herr == nil {
				t.Errorf("%s: openssl refuses it, certinit hashes it", name)
			}
			continue
		}
		if herr != nil {
			t.Errorf("%s: openssl hashes it, certinit: %v", name, herr)
			continue
		}
		if got := FormatHash(obj.Hash) + "\n" + FormatHash(obj.HashOld) + "\n"; got != string(out) {
			t.Errorf("%s: hashes %q, openssl %q", name, got, out)
		}
	}
	if _, err := compareRehash(t, dir, Options{}); err != nil {
		t.Error(err)
	}
}

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
	// World-traversable places, so that the unprivileged user reaches them.
	base, err := os.MkdirTemp("", "certinit-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	bin := filepath.Join(base, "certinit")
	data, err := os.ReadFile(testutil.BuildCertinit(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := mustMkdir(t, filepath.Join(base, "capath"))
	testutil.WriteFile(t, dir, "ca.pem", certPEM(t, s, cnName("Read-only CA"), 1))
	testutil.WriteFile(t, dir, "new.pem", certPEM(t, s, cnName("Needs a link"), 2))
	if err := os.Symlink("ca.pem", filepath.Join(dir, "00000000.0")); err != nil { // stale
		t.Fatal(err)
	}
	before := snapshot(t, base)
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
			var stderr bytes.Buffer
			tc.cmd.Stderr = &stderr
			err := tc.cmd.Run()
			msg := strings.TrimSpace(stderr.String())
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1:\n%s", err, msg)
			}
			if strings.Contains(msg, "\n") || !strings.Contains(msg, dir) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, dir, tc.want)
			}
			if after := snapshot(t, base); after != before {
				t.Errorf("the directory changed:\n%s\n---\n%s", before, after)
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
code=0; "$2" rehash "$mnt/capath" 2>"$3/stderr" || code=$?
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
	msg := strings.TrimSpace(string(stderr))
	var errLines []string // what is not a log line
	for _, l := range strings.Split(msg, "\n") {
		if !strings.HasPrefix(l, "time=") {
			errLines = append(errLines, l)
		}
	}
	if strings.TrimSpace(string(code)) != "1" || len(errLines) != 1 || !strings.Contains(errLines[0], "no space left on device") {
		t.Fatalf("exit %s, want 1 and one error line saying no space left:\n%s", code, msg)
	}
	after := filepath.Join(out, "after")
	links := linkMap(t, after)
	if len(links) < 20 {
		t.Errorf("only %d links left; the 20 that were right must stay", len(links))
	}
	checkRehashDir(t, after, nil)
	if temps := tempEntries(t, after); len(temps) > 0 {
		t.Errorf("temporary entries left: %v", temps)
	}
}
