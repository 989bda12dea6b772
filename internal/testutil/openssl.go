package testutil

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// The reference tool: what `openssl` itself says about the files a test
// made, for certinit's answers to be compared with.

// OpenSSL runs openssl with args and returns its standard output, trimmed;
// it fails the test when openssl fails.
func OpenSSL(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(RequireTool(t, "openssl"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}

// SubjectHash is the subject hash openssl gives the (first) certificate
// in file: the name of its hash link without the ".N".
func SubjectHash(t testing.TB, file string) string {
	t.Helper()
	return OpenSSL(t, "x509", "-noout", "-subject_hash", "-in", file)
}

// OpenSSLRehash runs `openssl rehash ARGS DIR` and fails the test when it
// fails.
func OpenSSLRehash(t testing.TB, dir string, args ...string) {
	t.Helper()
	if code := OpenSSLRehashCode(t, dir, args...); code != 0 {
		t.Fatalf("openssl rehash %s: exit %d", dir, code)
	}
}

// OpenSSLRehashCode runs `openssl rehash ARGS DIR` and returns its exit
// code, for input it refuses (it still links what it can); its output
// goes to the test's log.
func OpenSSLRehashCode(t testing.TB, dir string, args ...string) int {
	t.Helper()
	cmd := exec.Command(RequireTool(t, "openssl"), append(append([]string{"rehash"}, args...), dir)...)
	out, err := cmd.CombinedOutput()
	if len(out) > 0 {
		t.Logf("openssl rehash: %s", bytes.TrimSpace(out))
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}
