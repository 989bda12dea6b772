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
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"strings"

	"github.com/certinit/certinit/internal/atomicfile"
)

// Owner is a file owner. GID is -1 when no group was given: the file keeps
// the group it is created with, and a key stays 0600.
type Owner struct {
	UID, GID int
	Spec     string // as given, for messages
}

// Parse reads "USER", "USER:GROUP", "UID:GID" or "USER:" (the user's login
// group, as chown does).
func Parse(spec string) (*Owner, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "" {
		return nil, fmt.Errorf("owner %q: no user", spec)
	}
	o := &Owner{UID: -1, GID: -1, Spec: spec}
	u, err := lookupUser(name)
	if err != nil {
		return nil, fmt.Errorf("owner %q: %w", spec, err)
	}
	o.UID = u.uid
	switch {
	case hasGroup && group == "":
		o.GID = u.gid
	case hasGroup:
		if o.GID, err = lookupGroup(group); err != nil {
			return nil, fmt.Errorf("owner %q: %w", spec, err)
		}
	}
	return o, nil
}

type userIDs struct{ uid, gid int }

func lookupUser(name string) (userIDs, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		// A number needs no passwd entry (distroless, scratch), but its
		// login group is only known if there is one.
		ids := userIDs{uid: n, gid: -1}
		if u, err := user.LookupId(name); err == nil {
			ids.gid, _ = strconv.Atoi(u.Gid)
		}
		return ids, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return userIDs{}, fmt.Errorf("no such user %q", name)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return userIDs{}, fmt.Errorf("user %q has non-numeric ids", name)
	}
	return userIDs{uid: uid, gid: gid}, nil
}

func lookupGroup(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("no such group %q", name)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q has a non-numeric id", name)
	}
	return gid, nil
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
