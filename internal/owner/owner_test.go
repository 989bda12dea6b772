package owner

import (
	"os/user"
	"strconv"
	"testing"
)

func TestParse(t *testing.T) {
	root, err := user.LookupId("0")
	if err != nil {
		t.Skip("no passwd entry for uid 0")
	}
	rootGID, _ := strconv.Atoi(root.Gid)
	tests := []struct {
		spec     string
		uid, gid int
		mode     uint32
		wantErr  bool
	}{
		{spec: root.Username, uid: 0, gid: -1, mode: 0o600},
		{spec: root.Username + ":", uid: 0, gid: rootGID, mode: 0o640},
		{spec: root.Username + ":0", uid: 0, gid: 0, mode: 0o640},
		{spec: "4242:4343", uid: 4242, gid: 4343, mode: 0o640},
		{spec: "4242", uid: 4242, gid: -1, mode: 0o600},
		{spec: "certinit-no-such-user", wantErr: true},
		{spec: root.Username + ":certinit-no-such-group", wantErr: true},
		{spec: ":0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			o, err := Parse(tc.spec)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want an error", tc.spec, o)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.UID != tc.uid || o.GID != tc.gid || uint32(o.KeyMode()) != tc.mode {
				t.Fatalf("Parse(%q) = uid %d gid %d mode %o; want %d %d %o", tc.spec, o.UID, o.GID, o.KeyMode(), tc.uid, tc.gid, tc.mode)
			}
		})
	}
}
