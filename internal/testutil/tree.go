package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Directory trees: copied for a tool to work on, described to be compared
// before and after, and their links listed.

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

// DiffLines shows the lines only in a (-) and only in b (+), in order of
// the lines (at most 40): the difference of two TreeDigests, or of two
// lists of links.
func DiffLines(a, b string) string {
	set := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	inA, inB := set(a), set(b)
	var out []string
	for l := range inA {
		if !inB[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range inB {
		if !inA[l] {
			out = append(out, "+ "+l)
		}
	}
	// By line, so that a changed line shows as - and + one above the other.
	slices.SortFunc(out, func(x, y string) int { return strings.Compare(x[2:]+x[:1], y[2:]+y[:1]) })
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("... %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}

// CopyTree copies the tree under src into dst, links as links, modes kept
// (cp -a): two copies of one starting point for two tools.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
}

// LinkTree is CopyTree with regular files hard-linked (cp -al): cheap, and
// safe for trees certinit changes only by rename and unlink, never by
// writing into an existing file.
func LinkTree(t testing.TB, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-al", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -al: %v\n%s", err, out)
	}
}

// Links returns name -> target of the symbolic links directly in dir.
func Links(t testing.TB, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = target
	}
	return out
}

// DiffMaps shows the entries (key -> value) only in a (-) and only in b
// (+), "" when a and b are equal: for two link maps (Links), most often.
func DiffMaps(a, b map[string]string) string {
	if maps.Equal(a, b) {
		return ""
	}
	return DiffLines(mapLines(a), mapLines(b))
}

func mapLines(m map[string]string) string {
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		lines = append(lines, fmt.Sprintf("%q -> %q", name, m[name]))
	}
	return strings.Join(lines, "\n")
}

// Find returns the paths under root whose names match: the temporary
// files a writer must not leave behind, say.
func Find(t testing.TB, root string, match func(name string) bool) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if match(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
