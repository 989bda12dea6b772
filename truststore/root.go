package truststore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

// fsRoot maps paths of the OS tree under a root directory to host paths,
// resolving symbolic links as the OS inside would: an absolute link target
// starts again at the root, and ".." never climbs above it. Debian's
// /etc/ssl/certs links are absolute (/usr/share/ca-certificates/...), so a
// store under --root /tmp/x must never be read through the host's files.
type fsRoot struct {
	dir string // host path of the root, cleaned and absolute
}

// maxLinks bounds symlink resolution, like the kernel's ELOOP limit.
const maxLinks = 40

var errLoop = errors.New("too many levels of symbolic links")

func newFSRoot(dir string) (*fsRoot, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("root %w", userfile.PathError(dir, err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s: not a directory", dir)
	}
	return &fsRoot{dir: abs}, nil
}

// host returns the host path of an already resolved in-root path.
func (r *fsRoot) host(p string) string {
	if r.dir == "/" {
		return p
	}
	return r.dir + p
}

// resolve returns the host path of in-root path p with every symbolic link
// in its directory part resolved inside the root, and the last component
// too when followLast is set. Missing components are fine: the rest of the
// path is appended as it is.
func (r *fsRoot) resolve(p string, followLast bool) (string, error) {
	rp, err := r.resolveInRoot(p, followLast)
	if err != nil {
		return "", err
	}
	return r.host(rp), nil
}

// resolveInRoot is resolve, returning the in-root path. It walks p one
// component at a time; a link's target replaces the link in the walk, and
// ".." is taken after the directory it follows has been resolved.
func (r *fsRoot) resolveInRoot(p string, followLast bool) (string, error) {
	todo := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	cur := "/"
	links := 0
	for len(todo) > 0 {
		comp := todo[0]
		todo = todo[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, comp)
		if len(todo) == 0 && !followLast {
			return next, nil
		}
		fi, err := os.Lstat(r.host(next))
		if errors.Is(err, fs.ErrNotExist) {
			return path.Join(append([]string{next}, todo...)...), nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: %w", p, errLoop)
		}
		target, err := os.Readlink(r.host(next))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, nil
}

// readFile reads an in-root file, following links inside the root, with
// the guarded reader: regular files of at most 64 MiB only.
func (r *fsRoot) readFile(p string) ([]byte, error) {
	hp, err := r.resolve(p, true)
	if err != nil {
		return nil, err
	}
	return pemfile.ReadFile(hp)
}

// stat stats an in-root path, following links inside the root.
func (r *fsRoot) stat(p string) (fs.FileInfo, error) {
	hp, err := r.resolve(p, true)
	if err != nil {
		return nil, err
	}
	return os.Stat(hp)
}

// lstat stats an in-root path without following its last component.
func (r *fsRoot) lstat(p string) (fs.FileInfo, error) {
	hp, err := r.resolve(p, false)
	if err != nil {
		return nil, err
	}
	return os.Lstat(hp)
}

// exists reports whether an in-root path exists (following links).
func (r *fsRoot) exists(p string) bool {
	_, err := r.stat(p)
	return err == nil
}

// isFile reports whether p leads to a regular file, like `test -f`.
func (r *fsRoot) isFile(p string) bool {
	fi, err := r.stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// mkdirAll creates an in-root directory and its parents (0755).
func (r *fsRoot) mkdirAll(p string) error {
	hp, err := r.resolve(p, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(hp, 0o755); err != nil {
		return fmt.Errorf("create %w", userfile.PathError(p, err))
	}
	return nil
}

// plainFiles lists the non-hidden regular files (or links to one) directly
// in an in-root directory, in name order; a missing directory is empty.
func (r *fsRoot) plainFiles(dir string) []string {
	hp, err := r.resolve(dir, true)
	if err != nil {
		return nil
	}
	ents, err := os.ReadDir(hp)
	if err != nil {
		return nil
	}
	var out []string
	for _, de := range ents {
		p := dir + "/" + de.Name()
		if !strings.HasPrefix(de.Name(), ".") && r.isFile(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
