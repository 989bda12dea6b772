package userspec

import (
	"os/user"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	// Expected ids come from the system's own databases.
	root, err := user.Lookup("root")
	if err != nil {
		t.Skip("no root user in /etc/passwd")
	}
	rootGID, _ := strconv.Atoi(root.Gid)
	tests := []struct {
		spec     string
		uid, gid int
		err      string
	}{
		{"root", 0, rootGID, ""},
		{"root:0", 0, 0, ""},
		{"0:0", 0, 0, ""},
		{"0", 0, rootGID, ""},
		{"4242:4343", 4242, 4343, ""},
		{"4242", 0, 0, "no known primary group"},
		{"no-such-user-here", 0, 0, "no user"},
		{"root:no-such-group-here", 0, 0, "no group"},
		{":root", 0, 0, "no user"},
		{"root:", 0, 0, "empty group"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			uid, gid, err := Parse(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.spec) {
					t.Fatalf("err = %v, want one naming %q and saying %q", err, tc.spec, tc.err)
				}
				return
			}
			if err != nil || uid != tc.uid || gid != tc.gid {
				t.Fatalf("got %d:%d %v, want %d:%d", uid, gid, err, tc.uid, tc.gid)
			}
		})
	}
}
