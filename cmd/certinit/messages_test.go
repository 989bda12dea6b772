package main

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// These tests hold certinit's error lines to their rules (docs/conventions.md,
// "Exit codes and messages"): one line per problem, "certinit: " once at
// its start, the file or flag at fault named once, the right exit code.
// They assert structure, not wording.

// errorLines returns certinit's error lines in stderr, and fails the test
// for any line that is neither an error line (prefixed "certinit: " once)
// nor a log record.
func errorLines(t *testing.T, stderr string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		switch {
		case l == "" && stderr == "":
		case strings.HasPrefix(l, "time="):
		case strings.HasPrefix(l, "certinit: ") && strings.Count(l, "certinit:") == 1:
			out = append(out, l)
		default:
			t.Errorf("stderr line %q is neither an error line nor a log record", l)
		}
	}
	return out
}

// requireOnce fails unless s contains each of names exactly once.
func requireOnce(t *testing.T, s string, names ...string) {
	t.Helper()
	for _, n := range names {
		if c := strings.Count(s, n); c != 1 {
			t.Errorf("%q names %q %d times, want once", s, n, c)
		}
	}
}

// TestErrorLinePerProblem: commands that check several things report every
// problem on its own error line, each naming its file; rehash -v says
// "Doing DIR" only for a directory it went through.
func TestErrorLinePerProblem(t *testing.T) {
	dir := t.TempDir()
	missing1, missing2 := filepath.Join(dir, "missing-1"), filepath.Join(dir, "missing-2")
	good := filepath.Join(dir, "good")
	if err := os.Mkdir(good, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := testutil.NewCA(t, "Per Problem CA")
	cert := testutil.WriteFile(t, good, "ca.pem", testutil.CertPEM(ca.Cert))
	garbage := testutil.WriteFile(t, dir, "garbage.pem", []byte("garbage\n"))
	leaf, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "leaf"}})
	leafFile := testutil.WriteFile(t, dir, "leaf.pem", testutil.CertPEM(leaf))

	t.Run("rehash", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "rehash", "-v", missing1, missing2, cert, good)
		lines := errorLines(t, stderr)
		if code != 1 || len(lines) != 3 {
			t.Fatalf("exit %d, %d error lines %q; want 1 and one line per bad DIR", code, len(lines), lines)
		}
		for i, p := range []string{missing1, missing2, cert} {
			requireOnce(t, lines[i], p)
		}
		if !strings.HasPrefix(stdout, "Doing "+good+"\n") || strings.Count(stdout, "Doing ") != 1 {
			t.Errorf("stdout %q: want \"Doing DIR\" for %s only", stdout, good)
		}
	})
	t.Run("trust install", func(t *testing.T) {
		root := t.TempDir()
		before := testutil.TreeDigest(t, root, false)
		code, _, stderr := runCLI(t, "trust", "install", "--root", root, garbage, cert, leafFile, missing1)
		lines := errorLines(t, stderr)
		if code != 1 || len(lines) != 3 {
			t.Fatalf("exit %d, error lines %q; want 1 and one line per bad FILE", code, lines)
		}
		for i, p := range []string{garbage, leafFile, missing1} {
			requireOnce(t, lines[i], p)
		}
		if after := testutil.TreeDigest(t, root, false); after != before {
			t.Error("the store changed although input was bad")
		}
	})
	t.Run("hash", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "hash", garbage, cert, missing1)
		lines := errorLines(t, stderr)
		if code != 1 || len(lines) != 2 || strings.Count(stdout, "\n") != 1 {
			t.Fatalf("exit %d, error lines %q, stdout %q; want 1, a line per bad FILE, one hash", code, lines, stdout)
		}
		requireOnce(t, lines[0], garbage)
		requireOnce(t, lines[1], missing1)
	})
}

// TestPathNamedOnce: an error names the file, directory or flag at fault
// once, however many layers it went through (no "lock D: open D: ...",
// "root R: stat R: ...", "no CONNACK: no CONNACK: ...").
func TestPathNamedOnce(t *testing.T) {
	dir := t.TempDir()
	file := testutil.WriteFile(t, dir, "file.pem", []byte("x"))
	missing := filepath.Join(dir, "missing")
	big := testutil.WriteFile(t, dir, "big.conf", make([]byte, 5<<20))
	tests := []struct {
		name  string
		args  []string
		code  int
		names []string
	}{
		{"rehash of a file", []string{"rehash", file}, 1, []string{file}},
		{"rehash of nothing", []string{"rehash", missing}, 1, []string{missing}},
		{"trust --root missing", []string{"trust", "list", "--root", missing}, 1, []string{missing}},
		{"probe --capath missing", []string{"probe", "127.0.0.1:1", "--capath", missing}, 1, []string{missing, "--capath"}},
		{"hash of a directory", []string{"hash", dir}, 1, []string{dir}},
		{"trust remove of a missing file", []string{"trust", "remove", "--root", t.TempDir(), missing}, 1, []string{missing}},
		{"trust rebuild --root a file", []string{"trust", "rebuild", "--root", file}, 1, []string{file}},
		{"init --rehash missing", []string{"init", "--rehash", missing}, 1, []string{missing}},
		{"init --cert missing", []string{"init", "--cert", missing, "--key", file}, 1, []string{missing}},
		{"embed of a missing file", []string{"embed", missing}, 1, []string{missing}},
		{"embed of garbage", []string{"embed", file}, 1, []string{file}},
		{"check of a big include", []string{"check", "--mosquitto-conf", big}, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if tc.names == nil { // check reports on stdout
				if code != tc.code || strings.Count(stdout, "\n") != 1 {
					t.Fatalf("exit %d, stdout %q; want %d and one line", code, stdout, tc.code)
				}
				requireOnce(t, stdout, big)
				return
			}
			requireErrorLine(t, tc.code, code, stderr)
			requireOnce(t, stderr, tc.names...)
		})
	}
}

// TestProbeNoCONNACKOnce: a TLS server that closes the connection instead of
// answering CONNECT gives one "no CONNACK" in the report's mqtt line.
func TestProbeNoCONNACKOnce(t *testing.T) {
	p := newCLIPKI(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.pair(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	code, stdout, _ := runCLI(t, "probe", l.Addr().String(), "--servername", "localhost", "--cafile", p.rootFile, "--mqtt", "--offline")
	if code != 1 || !strings.HasSuffix(stdout, "verdict: mqtt-refused\n") {
		t.Fatalf("exit %d, stdout:\n%s\nwant 1 and mqtt-refused", code, stdout)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "mqtt: ") {
			requireOnce(t, line, "no CONNACK")
			return
		}
	}
	t.Fatalf("no mqtt line in\n%s", stdout)
}

// pair loads the CLI PKI's server certificate and key.
func (p *cliPKI) pair(t *testing.T) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(p.certFile, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCopyToSymlink: a symbolic link planted in --copy-to is refused in
// one line that names it once, says what it is in words (no mode string),
// and the link's target is untouched.
func TestCopyToSymlink(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WritePair(t, dir, "cert.pem", "key.pem")
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := testutil.WriteFile(t, dir, "victim", []byte("victim\n"))
	planted := filepath.Join(out, "cert.pem")
	if err := os.Symlink(victim, planted); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "--log-level", "error", "init", "--cert", cert, "--key", key, "--copy-to", out)
	requireErrorLine(t, 1, code, stderr, "symbolic link")
	requireOnce(t, stderr, planted)
	if strings.Contains(stderr, "---") {
		t.Errorf("stderr %q shows a mode string", stderr)
	}
	if got := string(testutil.ReadFile(t, victim)); got != "victim\n" {
		t.Errorf("the link's target was written: %q", got)
	}
}

// TestCommandInterpreterMissing: a COMMAND that exists but whose #!
// interpreter does not exits 127 (as a shell does), before anything is
// prepared, with one error line naming the command once and the
// interpreter.
func TestCommandInterpreterMissing(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "broker.sh")
	if err := os.WriteFile(script, []byte("#!/nonexistent/interp\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rehashed := t.TempDir()
	for _, exec := range []bool{false, true} {
		args := []string{"--log-level", "error", "run", "--rehash", rehashed}
		if exec {
			args = append(args, "--exec")
		}
		code, _, stderr := runCLI(t, append(args, "--", script)...)
		requireErrorLine(t, 127, code, stderr, "/nonexistent/interp")
		requireOnce(t, stderr, script)
	}
	if ents, _ := os.ReadDir(rehashed); len(ents) != 0 {
		t.Errorf("--rehash ran before COMMAND was found unable to start: %d entries", len(ents))
	}
}

// TestContainerFileMessages: a PKCS#7 file where certinit wants
// certificates gets one line (one problem line for check) that names the
// file once and the openssl command that converts it.
func TestContainerFileMessages(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	ca := testutil.NewCA(t, "P7 CA")
	pemFile := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))
	p7 := filepath.Join(dir, "ca.p7b")
	if out, err := exec.Command(openssl, "crl2pkcs7", "-nocrl", "-certfile", pemFile, "-outform", "DER", "-out", p7).CombinedOutput(); err != nil {
		t.Fatalf("openssl crl2pkcs7: %v\n%s", err, out)
	}
	const convert = "openssl pkcs7 -inform DER -print_certs"
	for _, args := range [][]string{{"hash", p7}, {"trust", "install", "--root", t.TempDir(), p7}, {"probe", "127.0.0.1:1", "--cafile", p7}} {
		code, _, stderr := runCLI(t, args...)
		requireErrorLine(t, 1, code, stderr, convert)
		requireOnce(t, stderr, p7)
	}
	code, stdout, _ := runCLI(t, "check", "--cafile", p7)
	if code != 1 || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, convert) {
		t.Fatalf("check: exit %d, stdout %q; want 1 and one line with %q", code, stdout, convert)
	}
	requireOnce(t, stdout, p7)
}
