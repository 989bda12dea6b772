// Package userspec parses the USER[:GROUP] arguments of certinit's --owner
// flags into numeric ids, the way chown(1) does: names are looked up in the
// system's user and group databases (/etc/passwd and /etc/group in a static
// binary), numbers are taken as ids, and a USER without GROUP means the
// user's primary group.
//
// It does not change any file's ownership; callers pass the ids to
// internal/atomicfile.
package userspec

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// Parse returns the uid and gid that spec ("mosquitto", "mosquitto:certs",
// "1883:1883", "1883") names.
func Parse(spec string) (uid, gid int, err error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	if u == "" {
		return 0, 0, fmt.Errorf("owner %q: no user", spec)
	}
	if hasGroup && g == "" {
		return 0, 0, fmt.Errorf("owner %q: empty group", spec)
	}
	uid, primary, err := lookupUser(u)
	if err != nil {
		return 0, 0, fmt.Errorf("owner %q: %w", spec, err)
	}
	if !hasGroup {
		if primary < 0 {
			return 0, 0, fmt.Errorf("owner %q: numeric user %d has no known primary group; give USER:GROUP", spec, uid)
		}
		return uid, primary, nil
	}
	gid, err = lookupGroup(g)
	if err != nil {
		return 0, 0, fmt.Errorf("owner %q: %w", spec, err)
	}
	return uid, gid, nil
}

// lookupUser returns the uid and primary gid (-1 when unknown) of a user
// name or number.
func lookupUser(s string) (int, int, error) {
	var (
		u   *user.User
		err error
	)
	if n, nerr := strconv.Atoi(s); nerr == nil {
		if n < 0 {
			return 0, 0, errors.New("negative uid")
		}
		if u, err = user.LookupId(s); err != nil {
			return n, -1, nil // a bare number need not exist in /etc/passwd
		}
	} else if u, err = user.Lookup(s); err != nil {
		return 0, 0, fmt.Errorf("no user %s", s)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("user %s has a non-numeric uid %q", s, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		gid = -1
	}
	return uid, gid, nil
}

func lookupGroup(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return 0, errors.New("negative gid")
		}
		return n, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("no group %s", s)
	}
	return strconv.Atoi(g.Gid)
}
