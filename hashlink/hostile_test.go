package hashlink

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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
	rss := testutil.PeakRSS(t, cmd)
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), errb.String(), took, rss()
}

// warned reports whether certinit's JSON log output holds a warning
// about path.
func warned(t *testing.T, output, path string) bool {
	t.Helper()
	logs := testutil.JSONLogs(t, output)
	return len(logs.Matching(testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.HasAttr("path", path)))) > 0
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
	before := testutil.TreeDigest(t, outside, true)
	_, err = compareRehash(t, dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "loop1.pem") || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("error %v: want the loop named", err)
	}
	if after := testutil.TreeDigest(t, outside, true); after != before {
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
	code, stderr, took, _ := runCertinit(t, nil, "--log-format", "json", "rehash", dir)
	if code != 0 || took > 10*time.Second {
		t.Fatalf("exit %d after %v:\n%s", code, took, stderr)
	}
	if !warned(t, stderr, filepath.Join(dir, "fifo.pem")) || !warned(t, stderr, filepath.Join(dir, "dir.crt")) {
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
	if _, err := Rehash(t.Context(), lib, Options{}); err != nil {
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
