package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TreeDigest describes every entry under dir, one line each, sorted: its
// path relative to dir, mode, and link target or content digest; with
// mtimes also its modification time, so a rewrite with the same bytes
// shows. Equal strings mean equal trees (untouched ones, with mtimes).
func TreeDigest(t testing.TB, dir string, mtimes bool) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%q %v", rel, fi.Mode())
		if mtimes {
			line += fmt.Sprintf(" %d", fi.ModTime().UnixNano())
		}
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

// PeakRSS wraps cmd in GNU time to learn the command's own peak RSS; the
// returned func gives it in KiB after cmd ran (-1 if unknown). The rusage
// Go reports for a child is no good here: the child is cloned from the
// test process, and Linux carries the test's high-water mark through exec.
// Without /usr/bin/time (Debian package time) the test skips (fails in CI).
func PeakRSS(t *testing.T, cmd *exec.Cmd) func() int64 {
	t.Helper()
	gnuTime := RequireTool(t, "/usr/bin/time")
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
