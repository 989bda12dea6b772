// Package testutil holds what certinit's tests share, once, one file per
// kind: finding the real programs they run (openssl, mosquitto,
// update-ca-certificates, pebble) with the rule that in CI a missing
// program is a failure, never a skip (this file); the certificate factory
// (certs.go); fixture files and directories (files.go, tree.go); the
// reference tool's answers (openssl.go); the built certinit run to its end
// or in the background (certinit.go); a recording logger for in-process
// code and for a program's JSON log (logs.go, logs_json.go); a
// goroutine-safe Buffer and Collected list (buffer.go); Eventually for state without an event (poll.go);
// servers and a TCP Relay on 127.0.0.1; the random-SIGKILL loop of crash
// tests (kill.go); files certinit must refuse to read (unreadable.go,
// fifo.go); a full disk in a private mount namespace (mountns.go); process
// figures (procfs.go); and the file-system moves of certbot and the
// kubelet (renew.go).
//
// It is for tests only: it is imported from _test.go files and the other
// test packages (internal/mosquittotest, internal/pebbletest,
// internal/promtest), never from
// certinit's own code, and it imports none of certinit's packages (their
// in-package tests import it). It holds no mocks: its helpers run the
// real programs or make real files.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where every real
// component must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of a program the test needs. When it is missing
// the test fails in CI and is skipped elsewhere, with the install hint
// (`make deps` installs everything as root).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{filepath.Join(ModuleRoot(t), ".bin"), "/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	msg := name + " not found: run `make deps` (as root) to install the test components"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// RequireFile fails the test (CI) or skips it (elsewhere) when path, a
// file a test component installs, is missing; hint says which one and how
// to get it ("libmbedtls-dev not installed: run `make deps`").
func RequireFile(t testing.TB, path, hint string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if InCI() {
		t.Fatal(hint)
	}
	t.Skip(hint)
}

// ModuleRoot returns the directory holding go.mod (tests run in their
// package directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// RequireRoot fails in CI and skips elsewhere when the test is not root
// (namespaces, chown to other users).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("this test needs root (namespaces, chown)")
	}
	t.Skip("this test needs root")
}
