package owner

import (
	"math/big"
	"os/user"
	"strconv"
	"strings"
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
		{spec: "0:", uid: 0, gid: rootGID, mode: 0o640},
		{spec: "4242:4343", uid: 4242, gid: 4343, mode: 0o640},
		{spec: "4242", uid: 4242, gid: -1, mode: 0o600},
		{spec: "4294967294:4294967294", uid: MaxID, gid: MaxID, mode: 0o640},
		{spec: "certinit-no-such-user", wantErr: true},
		{spec: root.Username + ":certinit-no-such-group", wantErr: true},
		{spec: ":0", wantErr: true},
		// Ids chown would wrap to root or read as "unchanged".
		{spec: "4294967296", wantErr: true},
		{spec: "4294967295", wantErr: true},
		{spec: "99999999999", wantErr: true},
		{spec: "99999999999999999999999", wantErr: true},
		{spec: "0:4294967295", wantErr: true},
		{spec: "0:4294967296", wantErr: true},
		{spec: root.Username + ":18446744073709551616", wantErr: true},
		{spec: "-1", wantErr: true},
		{spec: "+5", wantErr: true},
		// A number without a passwd entry has no login group to give.
		{spec: "4242:", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			o, err := Parse(tc.spec)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want an error", tc.spec, o)
				}
				if !strings.Contains(err.Error(), strconv.Quote(tc.spec)) {
					t.Errorf("error %q does not quote %q", err, tc.spec)
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

// FuzzParse holds Parse to its range rule against an independent reading
// of the digits (math/big): an id of digits above MaxID is refused, one in
// range is taken exactly, and nothing Parse accepts can reach chown as an
// id that wraps or means "unchanged".
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "root", "root:", "0:0", "4242:4343", "4294967294", "4294967295",
		"4294967296", "99999999999", "1:18446744073709551617", "007", "+1", "-1", ":", "a:b:c", "0:\x00"} {
		f.Add(s)
	}
	maxID := big.NewInt(MaxID)
	// inRange is the oracle: ok is false for a part that is not digits.
	inRange := func(s string) (id int64, ok, digits bool) {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return 0, false, false
		}
		n, _ := new(big.Int).SetString(s, 10)
		if n.Cmp(maxID) > 0 {
			return 0, false, true
		}
		return n.Int64(), true, true
	}
	f.Fuzz(func(t *testing.T, spec string) {
		o, err := Parse(spec)
		if err == nil {
			if o.UID < 0 || o.UID > MaxID || o.GID < -1 || o.GID > MaxID || o.Spec != spec {
				t.Fatalf("Parse(%q) = %+v: id out of range", spec, o)
			}
			if (o.KeyMode() == 0o640) != (o.GID >= 0) || o.KeyMode()&0o007 != 0 {
				t.Fatalf("Parse(%q): key mode %o with gid %d", spec, o.KeyMode(), o.GID)
			}
		}
		name, group, hasGroup := strings.Cut(spec, ":")
		uid, uidOK, uidDigits := inRange(name)
		gid, gidOK, gidDigits := inRange(group)
		switch {
		case uidDigits && !uidOK, hasGroup && gidDigits && !gidOK:
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an out-of-range error", spec, o)
			}
		case uidOK && (!hasGroup || gidOK):
			if err != nil {
				t.Fatalf("Parse(%q): %v", spec, err)
			}
			wantGID := int64(-1)
			if hasGroup {
				wantGID = gid
			}
			if int64(o.UID) != uid || int64(o.GID) != wantGID {
				t.Fatalf("Parse(%q) = %d:%d, want %d:%d", spec, o.UID, o.GID, uid, wantGID)
			}
		}
	})
}
