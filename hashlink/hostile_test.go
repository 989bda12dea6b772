package hashlink

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/testutil"
)

// Hostile input for certinit rehash and certinit hash: every case gets a
// clear error or a bounded, correct result (the links openssl rehash makes
// where openssl survives the input), and nothing outside the directory is
// touched.

// warned reports whether a run of certinit logged a warning about path.
func warned(r testutil.Result, path string) bool {
	return len(r.Logs.Matching(testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.HasAttr("path", path)))) > 0
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
	testutil.Mkdir(t, filepath.Join(outside, "subdir"))
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
		t.Errorf("rehash changed files outside the directory (- before, + after):\n%s", testutil.DiffLines(before, after))
	}
}

// TestRehashNonRegularFiles: files named x.pem that must not be read
// (testutil.UnreadableFiles: a FIFO, on which openssl rehash blocks
// forever, a link to a device, a directory, an oversized file) are skipped
// with a warning naming each, in bounded time; the rest of the directory
// is linked as openssl links it without them.
func TestRehashNonRegularFiles(t *testing.T) {
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "ca.pem", certPEM(t, s, cnName("Beside files not to read"), 1))
	ref := t.TempDir()
	testutil.CopyTree(t, dir, ref)
	testutil.OpenSSLRehash(t, ref)
	var bad []string
	for _, k := range testutil.UnreadableFiles {
		p := filepath.Join(dir, strings.ReplaceAll(k.Name, " ", "-")+".pem")
		k.Make(t, p)
		bad = append(bad, p)
	}
	r := testutil.RunCertinit(t, "rehash", dir)
	if r.Code != 0 || r.Took > 10*time.Second {
		t.Fatalf("exit %d after %v:\n%s", r.Code, r.Took, r.Stderr)
	}
	for _, p := range bad {
		if !warned(r, p) {
			t.Errorf("no warning naming %s", p)
		}
	}
	if d := testutil.DiffMaps(hashLinks(t, ref), hashLinks(t, dir)); d != "" {
		t.Errorf("links differ from openssl's without the files not to read (- openssl only, + certinit only):\n%s", d)
	}
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
	testutil.CopyTree(t, dir, cli)
	testutil.CopyTree(t, dir, lib)
	if _, err := Rehash(t.Context(), lib, Options{}); err != nil {
		t.Fatal(err)
	}
	// In the default (text) log format, where a name is written as is
	// unless quoted: each record must stay one line.
	cmd := exec.Command(testutil.BuildCertinit(t), "rehash", cli)
	cmd.Dir = work
	r := testutil.Run(t, cmd)
	if r.Code != 0 {
		t.Fatalf("exit %d:\n%s", r.Code, r.Stderr)
	}
	if want, got := testutil.Links(t, lib), testutil.Links(t, cli); len(want) < len(hostileNames)-3 || testutil.DiffMaps(want, got) != "" {
		t.Errorf("command line made other links than Rehash (- Rehash only, + command only):\n%s", testutil.DiffMaps(want, got))
	}
	if r.Stderr == "" {
		t.Error("nothing logged: bad\nname.pem should have been skipped with a warning")
	}
	for _, line := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		// slog's text handler starts every record with its time.
		if !strings.HasPrefix(line, "time=") {
			t.Errorf("log record broken across lines by a file name: %q", line)
		}
	}
	for _, d := range []string{work, cli, filepath.Dir(cli)} {
		if _, err := os.Stat(filepath.Join(d, "PWNED")); err == nil {
			t.Fatalf("a file name was executed: %s/PWNED exists", d)
		}
	}
}
