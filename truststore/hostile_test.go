package truststore

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// Hostile input for certinit trust: every case gets a clear error or a
// bounded, correct result, nothing outside the managed directories is
// touched (a snapshot of the outside is compared), and the store stays
// consistent.

// hostileOutside makes a directory outside the root with a certificate and
// a victim file for planted links to point at.
func hostileOutside(t *testing.T) (dir string, victim string) {
	t.Helper()
	dir = t.TempDir()
	writeCA(t, dir, "outside.pem", "Outside CA")
	victim = testutil.WriteFile(t, dir, "victim.txt", []byte("must stay as it is\n"))
	mustMkdir(t, filepath.Join(dir, "subdir"))
	return dir, victim
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// verifyCApath runs openssl verify -CApath on a dir: store (relative links,
// so the host's openssl reads it as it is).
func verifyCApath(t *testing.T, dir, cert string) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	if out, err := exec.Command(openssl, "verify", "-CApath", dir, cert).CombinedOutput(); err != nil {
		t.Errorf("openssl verify -CApath %s %s: %v\n%s", dir, cert, err, out)
	}
}

// TestPlantedLinksInStore plants symlinks in the directories certinit
// manages — to files and directories outside the root, to system files,
// in loops, to themselves, dangling, and a link to a directory loop in
// Debian's local directory — and installs a CA. The install succeeds,
// the planted links that lead nowhere are gone (as update-ca-certificates
// removes orphan links), every remaining link resolves inside the root,
// openssl finds the new CA, and nothing outside changed.
func TestPlantedLinksInStore(t *testing.T) {
	outside, victim := hostileOutside(t)
	in := t.TempDir()
	f, _ := writeCA(t, in, "new.pem", "Planted Links CA")
	for _, tc := range []struct {
		spec  string
		dir   string // where links are planted
		extra map[string]string
	}{
		{"dir:/capath", "capath", nil},
		{"debian", "etc/ssl/certs", map[string]string{
			"usr/local/share/ca-certificates/loop":        "..",
			"usr/local/share/ca-certificates/self":        ".",
			"usr/local/share/ca-certificates/a.crt":       "b.crt",
			"usr/local/share/ca-certificates/b.crt":       "a.crt",
			"usr/local/share/ca-certificates/outside.crt": filepath.Join(outside, "outside.pem"),
		}},
	} {
		t.Run(strings.ReplaceAll(tc.spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			s := openStore(t, root, tc.spec)
			install(t, s, testutil.WriteFile(t, in, "first.pem", testutil.CertPEM(testutil.NewCA(t, "First CA").Cert)))
			d := filepath.Join(root, tc.dir)
			planted := map[string]string{
				"evil.pem":     filepath.Join(outside, "outside.pem"),
				"up.pem":       "../../../../../../../../" + strings.TrimPrefix(victim, "/"),
				"abcdef01.0":   victim,
				"abcdef02.0":   filepath.Join(outside, "subdir"),
				"loop1.pem":    "loop2.pem",
				"loop2.pem":    "loop1.pem",
				"self.crt":     "self.crt",
				"dangling.pem": "gone.pem",
				"subdir.pem":   filepath.Join(outside, "subdir"),
			}
			for name, target := range planted {
				symlink(t, target, filepath.Join(d, name))
			}
			for name, target := range tc.extra {
				symlink(t, target, filepath.Join(root, name))
			}
			before := treeDigest(t, outside)
			rep, err := s.Install(context.Background(), []string{f}, InstallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Added) != 1 {
				t.Fatalf("added %d", len(rep.Added))
			}
			// Links planted among Debian's sources are the
			// administrator's: left as they are, and left out of the
			// consistency check (which walks the whole root).
			for name := range tc.extra {
				os.Remove(filepath.Join(root, name))
			}
			checkConsistent(t, s)
			for name := range planted {
				if _, err := os.Lstat(filepath.Join(d, name)); err == nil && !s.root.isFile(path2root(tc.dir, name)) {
					t.Errorf("planted link %s leads nowhere and was kept", name)
				}
			}
			// A link out of the root leads, inside it, nowhere: only the
			// two installed CAs are in.
			if got := bundleCerts(t, s.BundlePath()); len(got) != 2 {
				t.Errorf("bundle holds %d certificates, want the 2 installed", len(got))
			}
			if tc.spec == "debian" {
				// The directory loops in the local directory are entered
				// once (as find -L does): each certificate has one
				// NAME.pem link and one copy in the bundle.
				count := 0
				for n := range links(t, d) {
					if strings.HasSuffix(n, ".pem") {
						count++
					}
				}
				if count != 2 {
					t.Errorf("%d NAME.pem links, want 2: %v", count, links(t, d))
				}
			} else {
				verifyCApath(t, d, f)
			}
			if after := treeDigest(t, outside); after != before {
				t.Errorf("files outside the root changed:\n%s", diffLines(before, after))
			}
		})
	}
}

func path2root(dir, name string) string { return "/" + dir + "/" + name }

// TestPlantedBundleLink: a symlink planted where the bundle goes is
// refused before anything is written (certinit does not write through
// links): one error naming the bundle, the whole tree unchanged, the
// victim untouched.
func TestPlantedBundleLink(t *testing.T) {
	outside, victim := hostileOutside(t)
	in := t.TempDir()
	f, _ := writeCA(t, in, "new.pem", "Bundle Link CA")
	for _, spec := range []string{"debian", "dir:/capath", "rhel"} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			s := openStore(t, root, spec)
			symlink(t, victim, s.BundlePath())
			before, outBefore := treeDigest(t, root), treeDigest(t, outside)
			_, err := s.Install(context.Background(), []string{f}, InstallOptions{})
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), s.layout.Bundle) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("error %v: want one line naming %s", err, s.layout.Bundle)
			}
			if after := treeDigest(t, root); after != before {
				t.Errorf("store changed:\n%s", diffLines(before, after))
			}
			if after := treeDigest(t, outside); after != outBefore {
				t.Errorf("outside changed:\n%s", diffLines(outBefore, after))
			}
		})
	}
}

// TestHostileFileNames: input files and files already in the store whose
// names carry newlines and shell metacharacters. Nothing is executed (no
// PWNED file appears), installs work, and a dir: store gets exactly the
// hash links openssl rehash gives its certificate files. In a Debian store,
// for the names Debian's own script reads correctly (spaces, parentheses,
// commas, quotes, $, `, ;, *, |, UTF-8), certinit's links and bundle are
// exactly update-ca-certificates'; names that script mangles (newline,
// backslash, leading blanks: it reads them with `read` without -r) are
// taken literally, and the store stays consistent.
func TestHostileFileNames(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	in := t.TempDir()
	var inputs []string
	for i, name := range []string{"$(touch PWNED).pem", "`touch PWNED`\n.pem", "; touch PWNED;.crt", "-rf.pem", "a b (c),d.pem"} {
		f, _ := writeCA(t, in, name, fmt.Sprintf("Hostile Input %d", i))
		inputs = append(inputs, f)
	}
	toolSafe := []string{"sp ace.crt", "paren(1).crt", "com,ma.crt", "quote'\"q.crt", "dollar$(touch PWNED).crt",
		"tick`touch PWNED`.crt", "semi;colon.crt", "star*.crt", "pipe|gt>.crt", "é-utf8.crt", "-dash.crt"}
	mangled := []string{"new\nline.crt", "back\\slash.crt", " lead.crt"}

	t.Run("dir", func(t *testing.T) {
		root := t.TempDir()
		s := openStore(t, root, "dir:/capath")
		d := mustMkdir(t, filepath.Join(root, "capath"))
		for i, name := range append(append([]string{}, toolSafe...), mangled...) {
			writeCA(t, d, strings.TrimSuffix(name, ".crt")+".pem", fmt.Sprintf("Hostile Name %d", i%4))
		}
		install(t, s, inputs...)
		checkConsistent(t, s)
		if n := len(bundleCerts(t, s.BundlePath())); n != len(toolSafe)+len(mangled)+len(inputs) {
			t.Errorf("bundle holds %d certificates", n)
		}
		ref := t.TempDir()
		copyTree(t, d, ref)
		for n := range links(t, ref) {
			os.Remove(filepath.Join(ref, n))
		}
		os.Remove(filepath.Join(ref, dirBundleName))
		if out, err := exec.Command(testutil.RequireTool(t, "openssl"), "rehash", ref).CombinedOutput(); err != nil {
			t.Fatalf("openssl rehash: %v\n%s", err, out)
		}
		if diff := diffMaps(links(t, ref), links(t, d)); diff != "" {
			t.Errorf("links differ from openssl rehash (- openssl only, + certinit only):\n%s", diff)
		}
	})
	t.Run("debian", func(t *testing.T) {
		testutil.RequireRoot(t)
		root := t.TempDir()
		// A conf file that is not empty, so that neither tool runs in
		// --fresh mode (where the real one reports every link as added).
		conf := []byte("# hostile names test\n")
		testutil.WriteFile(t, root, "etc/ca-certificates.conf", conf)
		local := mustMkdir(t, filepath.Join(root, "usr/local/share/ca-certificates"))
		for i, name := range toolSafe {
			writeCA(t, local, name, fmt.Sprintf("Debian Hostile %d", i%4))
		}
		s := openStore(t, root, "debian")
		install(t, s, inputs...)
		checkConsistent(t, s)
		base := t.TempDir()
		mustMkdir(t, filepath.Join(base, certsDir))
		testutil.WriteFile(t, base, "etc/ca-certificates.conf", conf)
		sameAsTool(t, base, root)
		toolAgrees(t, root)
		for i, name := range mangled {
			writeCA(t, local, name, fmt.Sprintf("Mangled %d", i))
		}
		if _, err := s.Rebuild(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, s)
		if n := len(bundleCerts(t, s.BundlePath())); n != len(toolSafe)+len(mangled)+len(inputs) {
			t.Errorf("bundle holds %d certificates", n)
		}
	})
	for _, d := range []string{work, in} {
		if _, err := os.Stat(filepath.Join(d, "PWNED")); err == nil {
			t.Fatalf("a file name was executed: %s/PWNED exists", d)
		}
	}
}

// runTrust runs certinit trust with args and returns exit code, stderr,
// wall time and peak RSS (KiB, -1 when it cannot be measured; see
// peakRSS).
func runTrust(t *testing.T, args ...string) (int, string, time.Duration, int64) {
	t.Helper()
	cmd := exec.Command(testutil.BuildCertinit(t), append([]string{"trust"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	rss := peakRSS(t, cmd)
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
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

// errorLines returns the lines of stderr that are not log lines.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l != "" && !strings.HasPrefix(l, "time=") {
			out = append(out, l)
		}
	}
	return out
}

// TestHugeFileInStore: a 100 MB file named *.pem in a dir: store is left
// out with a warning naming it, without being read (bounded time and
// memory); in Debian's local directory (where update-ca-certificates would
// paste it into the bundle) it is one clear error and the store is left as
// it was.
func TestHugeFileInStore(t *testing.T) {
	in := t.TempDir()
	f, _ := writeCA(t, in, "new.pem", "Beside Huge CA")
	huge := func(p string) {
		t.Helper()
		mustMkdir(t, filepath.Dir(p))
		w, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		block := bytes.Repeat(testutil.CertPEM(testutil.NewCA(t, "Repeated CA").Cert), 128)
		for n := 0; n < 100<<20; n += len(block) {
			if _, err := w.Write(block); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
	}
	t.Run("dir", func(t *testing.T) {
		root := t.TempDir()
		huge(filepath.Join(root, "capath/huge.pem"))
		code, stderr, took, rss := runTrust(t, "install", "--root", root, "--store", "dir:/capath", f)
		t.Logf("install beside a 100 MB file: exit %d in %v, peak RSS %d KiB", code, took, rss)
		if code != 0 || !strings.Contains(stderr, "huge.pem") || !strings.Contains(stderr, "larger than 64 MiB") {
			t.Errorf("exit %d, want 0 and a warning naming huge.pem:\n%s", code, stderr)
		}
		if took > 20*time.Second || rss > 64<<10 { // -1: not measured
			t.Errorf("took %v and %d KiB: the huge file was read", took, rss)
		}
		s := openStore(t, root, "dir:/capath")
		if n := len(bundleCerts(t, s.BundlePath())); n != 1 {
			t.Errorf("bundle holds %d certificates, want 1", n)
		}
		checkConsistent(t, s)
	})
	t.Run("debian", func(t *testing.T) {
		root := t.TempDir()
		install(t, openStore(t, root, "debian"), testutil.WriteFile(t, in, "first.pem", testutil.CertPEM(testutil.NewCA(t, "First CA").Cert)))
		huge(filepath.Join(root, "usr/local/share/ca-certificates/huge.crt"))
		before := treeDigest(t, root)
		code, stderr, took, rss := runTrust(t, "install", "--root", root, "--store", "debian", f)
		t.Logf("install beside a 100 MB .crt: exit %d in %v, peak RSS %d KiB", code, took, rss)
		lines := errorLines(stderr)
		if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "huge.crt") || !strings.Contains(lines[0], "larger than 64 MiB") {
			t.Errorf("exit %d, want 1 and one error line naming huge.crt:\n%s", code, stderr)
		}
		if took > 20*time.Second || rss > 64<<10 { // -1: not measured
			t.Errorf("took %v and %d KiB: the huge file was read", took, rss)
		}
		if after := treeDigest(t, root); after != before {
			t.Errorf("store changed:\n%s", diffLines(before, after))
		}
	})
}

// TestHugeInputBundle installs one PEM file with 100,000 CA certificates
// (2,000 in the default run) into a dir: store: every one ends up in the
// store and the bundle, each with its hash link, in time linear in the
// count.
func TestHugeInputBundle(t *testing.T) {
	n := testutil.Scale(2000, 100000)
	in := t.TempDir()
	ca := testutil.NewCA(t, "Bundle Issuer")
	var buf bytes.Buffer
	var probe string
	for i := range n {
		c, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: fmt.Sprintf("Bundle Sub CA %d", i)}, IsCA: true})
		buf.Write(testutil.CertPEM(c))
		if i == n/2 {
			probe = testutil.WriteFile(t, in, "probe.pem", testutil.CertPEM(c))
		}
	}
	buf.Write(testutil.CertPEM(ca.Cert))
	f := testutil.WriteFile(t, in, "bundle.pem", buf.Bytes())
	root := t.TempDir()
	code, stderr, took, rss := runTrust(t, "install", "--root", root, "--store", "dir:/capath", f)
	t.Logf("install of %d certificates (%d MiB): exit %d in %v, peak RSS %d MiB", n+1, buf.Len()>>20, code, took, rss>>10)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, lastLines(stderr, 5))
	}
	if took > time.Duration(n)*5*time.Millisecond+10*time.Second {
		t.Errorf("took %v for %d certificates", took, n)
	}
	s := openStore(t, root, "dir:/capath")
	if got := len(bundleCerts(t, s.BundlePath())); got != n+1 {
		t.Errorf("bundle holds %d certificates, want %d", got, n+1)
	}
	if got := len(links(t, filepath.Join(root, "capath"))); got != n+1 {
		t.Errorf("%d hash links, want %d", got, n+1)
	}
	verifyCApath(t, filepath.Join(root, "capath"), probe)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestLongSubjectCA installs a CA whose subject is about 64 KiB: its hash
// link has the name openssl computes, and openssl finds it through the
// link.
func TestLongSubjectCA(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	in := t.TempDir()
	var ous []string
	for i := range 1500 {
		ous = append(ous, fmt.Sprintf("Organisational Unit Number %016d", i))
	}
	for name, subj := range map[string]pkix.Name{
		"one-cn":   {CommonName: strings.Repeat("Long Subject ", 64<<10/13)},
		"many-ous": {CommonName: "Many OUs", OrganizationalUnit: ous},
	} {
		t.Run(name, func(t *testing.T) {
			ca := testutil.NewCA(t, "unused")
			c, _ := ca.Issue(t, testutil.CertOpts{Subject: subj, IsCA: true})
			if len(c.RawSubject) < 60<<10 {
				t.Fatalf("subject of %d bytes", len(c.RawSubject))
			}
			// Self-signed would need its own key; a CA issued by another
			// is installed with its issuer, as a chain.
			f := testutil.WriteFile(t, in, name+".pem", testutil.CertPEM(c, ca.Cert))
			root := t.TempDir()
			install(t, openStore(t, root, "dir:/capath"), f)
			out, err := exec.Command(openssl, "x509", "-noout", "-subject_hash", "-in", f).Output()
			if err != nil {
				t.Skipf("openssl does not load a %d-byte subject: %v", len(c.RawSubject), err)
			}
			want := strings.TrimSpace(string(out)) + ".0"
			if got := links(t, filepath.Join(root, "capath"))[want]; got != stableName(c)+".pem" {
				t.Errorf("link %s -> %q, want the long-subject CA's file", want, got)
			}
			verifyCApath(t, filepath.Join(root, "capath"), testutil.WriteFile(t, in, name+"-alone.pem", testutil.CertPEM(c)))
		})
	}
}

// TestHashCollisionOverflow: more than 256 distinct CAs with one subject
// (different keys, same name, same hash) in a dir: store: exactly the
// links openssl rehash makes (HASH.0 to HASH.255), a warning for each one
// left without a link, and every certificate still in the bundle.
func TestHashCollisionOverflow(t *testing.T) {
	n := testutil.Scale(260, 300)
	in := t.TempDir()
	var buf bytes.Buffer
	for range n {
		buf.Write(testutil.CertPEM(testutil.NewCA(t, "Colliding Root").Cert))
	}
	f := testutil.WriteFile(t, in, "colliding.pem", buf.Bytes())
	root := t.TempDir()
	var logs strings.Builder
	s, err := Open(root, "dir:/capath", newBufLogger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Install(context.Background(), []string{f}, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(root, "capath")
	got := links(t, d)
	if len(got) != maxCollisions {
		t.Errorf("%d links, want %d", len(got), maxCollisions)
	}
	if w := strings.Count(logs.String(), "more than 256 certificates share one subject hash"); w != n-maxCollisions {
		t.Errorf("%d warnings, want %d", w, n-maxCollisions)
	}
	if got := len(bundleCerts(t, s.BundlePath())); got != n {
		t.Errorf("bundle holds %d, want %d", got, n)
	}
	ref := t.TempDir()
	copyTree(t, d, ref)
	for n := range got {
		os.Remove(filepath.Join(ref, n))
	}
	os.Remove(filepath.Join(ref, dirBundleName))
	out, err := exec.Command(testutil.RequireTool(t, "openssl"), "rehash", ref).CombinedOutput()
	if err == nil {
		t.Errorf("openssl rehash did not fail on the overflow:\n%s", out)
	}
	if diff := diffMaps(links(t, ref), got); diff != "" {
		t.Errorf("links differ from openssl rehash (- openssl only, + certinit only):\n%s", diff)
	}
	checkConsistent(t, s)
}

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
				if before, after := treeDigest(t, filepath.Join(parent, "before")), treeDigest(t, root); before != after {
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
		before := treeDigest(t, root)
		cmd := exec.Command(bin, "trust", "install", "--root", root, "--store", "dir:/capath", input)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err = cmd.Run()
		lines := errorLines(errb.String())
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || len(lines) != 1 || !strings.Contains(lines[0], "permission denied") {
			t.Errorf("exit %v, want 1 and one line saying permission denied:\n%s", err, errb.String())
		}
		if after := treeDigest(t, root); after != before {
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
