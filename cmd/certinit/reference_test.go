package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReferenceIsCurrent keeps docs/reference.md (written by
// scripts/gen-reference.sh from the binary's --help) equal to what each
// command's --help prints now, so a renamed or added flag cannot leave the
// documented CERTINIT_* variables behind.
func TestReferenceIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := regexp.MustCompile("(?s)## certinit([a-z ]*)\n\n```\n(.*?)```\n").FindAllSubmatch(doc, -1)
	if len(sections) < 14 {
		t.Fatalf("docs/reference.md has %d command sections, want every command; run scripts/gen-reference.sh", len(sections))
	}
	trail := regexp.MustCompile(`(?m)[ \t]+$`)
	for _, s := range sections {
		cmd := strings.TrimSpace(string(s[1]))
		args := append(strings.Fields(cmd), "--help")
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("certinit %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		if got := trail.ReplaceAllString(out, ""); got != string(s[2]) {
			t.Errorf("docs/reference.md is out of date for %q; run scripts/gen-reference.sh\n--- got:\n%s\n--- doc:\n%s", "certinit "+cmd, got, s[2])
		}
	}
}
