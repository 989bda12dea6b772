package probe

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// account is the identity a broker runs as after dropping privileges.
type account struct {
	name string
	uid  int
	gids map[int]bool
}

// lookupAccount resolves a user name and its groups (primary and
// supplementary) from the system's user database.
func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	a := &account{name: name, uid: uid, gids: map[int]bool{}}
	if gid, err := strconv.Atoi(u.Gid); err == nil {
		a.gids[gid] = true
	}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if gid, err := strconv.Atoi(s); err == nil {
				a.gids[gid] = true
			}
		}
	}
	return a, nil
}

// canAccess reports whether the account may read path (and, for a
// directory, list it), by the classic permission bits: search permission on
// every directory on the way (the path as written and after resolving
// symbolic links), then read (and search) permission on the file itself.
// It does not evaluate ACLs or capabilities; root may read anything.
func (a *account) canAccess(path string) error {
	if a.uid == 0 {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	for _, p := range []string{abs, real} {
		for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
			fi, err := os.Stat(dir)
			if err != nil {
				return err
			}
			if !a.allowed(fi, 1) {
				return fmt.Errorf("not reachable by user %s: directory %s is mode %04o, owner %s", a.name, dir, fi.Mode().Perm(), owner(fi))
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !a.allowed(fi, 4) {
		return fmt.Errorf("not readable by user %s (mode %04o, owner %s)", a.name, fi.Mode().Perm(), owner(fi))
	}
	if fi.IsDir() && !a.allowed(fi, 1) {
		return fmt.Errorf("not searchable by user %s (mode %04o, owner %s)", a.name, fi.Mode().Perm(), owner(fi))
	}
	return nil
}

// allowed checks one permission bit (4 read, 1 search) for the account:
// owner bits if it owns the file, else group bits if in the group, else
// other bits, as the kernel does.
func (a *account) allowed(fi fs.FileInfo, bit fs.FileMode) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == a.uid:
		return perm&(bit<<6) != 0
	case a.gids[int(st.Gid)]:
		return perm&(bit<<3) != 0
	}
	return perm&bit != 0
}

func owner(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	name := strconv.Itoa(int(st.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	group := strconv.Itoa(int(st.Gid))
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	return name + ":" + group
}

// worldReadable reports whether everyone may read a regular file (for
// keys; anything else is not read as a key at all).
func worldReadable(path string) (bool, fs.FileMode) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false, 0
	}
	return fi.Mode().Perm()&0o004 != 0, fi.Mode().Perm()
}
