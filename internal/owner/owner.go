// Package owner parses the USER[:GROUP] that --owner options take (run,
// init, acme obtain) into numeric ids for internal/atomicfile, and says
// which mode a private key gets for it.
//
// It does not change ownership itself; atomicfile applies it while writing.
// Names are looked up in the /etc/passwd and /etc/group of the running
// system (os/user's pure-Go lookup, so a static binary in a scratch image
// works when those files exist); numeric ids need no lookup at all.
package owner

import (
	"errors"
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"strings"

	"github.com/certinit/certinit/internal/atomicfile"
)

// MaxID is the largest user or group id a file can be given. Ids are 32
// bits wide, and the all-ones id 2^32−1 is (uid_t)-1, which chown(2) reads
// as "leave unchanged": a larger number would wrap to another id, that one
// would silently change nothing.
const MaxID = 1<<32 - 2

// Owner is a file owner. GID is -1 when no group was given: the file keeps
// the group it is created with, and a key stays 0600.
type Owner struct {
	UID, GID int
	Spec     string // as given, for messages
}

// Parse reads "USER", "USER:GROUP" or "USER:" (the user's login group, as
// chown does). USER and GROUP are names or numeric ids from 0 to MaxID; a
// string of digits is always an id. Errors quote spec.
func Parse(spec string) (*Owner, error) {
	o, err := parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", spec, err)
	}
	return o, nil
}

func parse(spec string) (*Owner, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "" {
		return nil, errors.New("no user")
	}
	u, err := lookupUser(name)
	if err != nil {
		return nil, err
	}
	o := &Owner{UID: u.uid, GID: -1, Spec: spec}
	switch {
	case hasGroup && group == "":
		if u.gid < 0 {
			return nil, fmt.Errorf("user %s has no passwd entry, so no login group: name the group (%s:GROUP)", name, name)
		}
		o.GID = u.gid
	case hasGroup:
		if o.GID, err = lookupGroup(group); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// parseID reads s as a numeric id. numeric is false when s is not a
// string of ASCII digits, that is when it is a name.
func parseID(s string) (id int, numeric bool, err error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > MaxID {
		return 0, true, fmt.Errorf("id out of range (0 to %d)", MaxID)
	}
	return int(n), true, nil
}

// checkID applies parseID's range to an id found in /etc/passwd or
// /etc/group.
func checkID(kind, name, id string) (int, error) {
	n, numeric, err := parseID(id)
	if !numeric {
		return 0, fmt.Errorf("%s %q has the id %q, not a number", kind, name, id)
	}
	if err != nil {
		return 0, fmt.Errorf("%s %q has the %w: %s", kind, name, err, id)
	}
	return n, nil
}

type userIDs struct{ uid, gid int } // gid -1: no login group known

func lookupUser(name string) (userIDs, error) {
	if uid, numeric, err := parseID(name); numeric {
		if err != nil {
			return userIDs{}, fmt.Errorf("user %w", err)
		}
		// A number needs no passwd entry (distroless, scratch), but its
		// login group is only known if there is one.
		ids := userIDs{uid: uid, gid: -1}
		if u, err := user.LookupId(name); err == nil {
			if ids.gid, err = checkID("login group of user", name, u.Gid); err != nil {
				return userIDs{}, err
			}
		}
		return ids, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return userIDs{}, fmt.Errorf("no such user %q", name)
	}
	uid, err := checkID("user", name, u.Uid)
	if err != nil {
		return userIDs{}, err
	}
	gid, err := checkID("login group of user", name, u.Gid)
	if err != nil {
		return userIDs{}, err
	}
	return userIDs{uid: uid, gid: gid}, nil
}

func lookupGroup(name string) (int, error) {
	if gid, numeric, err := parseID(name); numeric {
		if err != nil {
			return 0, fmt.Errorf("group %w", err)
		}
		return gid, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("no such group %q", name)
	}
	return checkID("group", name, g.Gid)
}

// KeyMode is the mode for a private key owned by o: 0640 when a group was
// given (the group must read it), 0600 otherwise. Never world-readable.
func (o *Owner) KeyMode() fs.FileMode {
	if o != nil && o.GID >= 0 {
		return 0o640
	}
	return 0o600
}

// WriteOptions are the atomicfile options that apply o (none for nil).
func (o *Owner) WriteOptions() atomicfile.Options {
	if o == nil {
		return atomicfile.Options{}
	}
	return atomicfile.Options{Chown: true, UID: o.UID, GID: o.GID}
}
