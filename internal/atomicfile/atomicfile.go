// Package atomicfile is certinit's one disk writer: every file certinit creates
// or replaces (trust-store bundles, copied keys, ACME output, hash-link targets)
// goes through WriteFile or Symlink here.
//
// A write is: create a temporary file in the destination's directory (so the
// final rename never crosses a file system), write, chmod, optionally chown,
// fsync, close, rename over the destination, fsync the directory. A reader
// therefore sees either the old bytes or the new ones, never a mix, and a crash
// leaves at most a temporary file whose name starts with TempPrefix.
//
// It refuses to replace anything that is not a regular file (a symlink planted
// where certinit writes, a directory, a FIFO): rename(2) would replace a
// symlink itself rather than follow it, but a planted link at a name certinit
// owns is a sign that somebody else manages that name, so it is an error.
//
// It is not for appending, for files larger than memory, or for directories.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TempPrefix starts the name of every temporary file this package creates.
// Readers that scan managed directories (rehash, trust rebuild) skip names with
// this prefix, and cleanup of a crashed run may remove them.
const TempPrefix = ".certinit-tmp-"

// Options are the optional parts of a write.
type Options struct {
	// Chown, when true, applies UID and GID with fchown before the rename
	// (-1 leaves that id unchanged). The zero Options leave ownership alone.
	Chown    bool
	UID, GID int
	// NoDirSync leaves out the final fsync of the directory: for a caller
	// that writes more into the same directory next and fsyncs it then (or
	// calls SyncDir itself). Until that fsync, a power loss may undo the
	// rename; the file's content is synced either way.
	NoDirSync bool
}

// ErrNotRegular is returned (wrapped) when the destination exists and is not a
// regular file.
var ErrNotRegular = errors.New("exists and is not a regular file")

// WriteFile atomically replaces path with data and permission perm.
// The destination's parent directory must exist.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return WriteFileOpts(path, data, perm, Options{})
}

// WriteFileOpts is WriteFile with ownership.
func WriteFileOpts(path string, data []byte, perm fs.FileMode, o Options) (err error) {
	return WritePartsOpts(path, [][]byte{data}, perm, o)
}

// WritePartsOpts is WriteFileOpts of the bytes of parts one after the
// other (see StageParts).
func WritePartsOpts(path string, parts [][]byte, perm fs.FileMode, o Options) error {
	if err := checkDest(path); err != nil {
		return err
	}
	st, err := StageParts(path, parts, perm, o)
	if err != nil {
		return err
	}
	return st.Commit(o)
}

// Staged is a file written complete and durable under a temporary name
// beside its destination and not yet renamed into place: WriteFile in two
// halves, for a caller that has other work to do while the fsync runs.
// Exactly one of Commit or Abort must follow.
type Staged struct {
	path, tmp string
}

// Stage is the first half of WriteFileOpts: it writes data into a new
// temporary file beside path (mode perm, owner per o) and fsyncs it. It
// does not look at path itself; Commit does.
func Stage(path string, data []byte, perm fs.FileMode, o Options) (*Staged, error) {
	return StageParts(path, [][]byte{data}, perm, o)
}

// StageParts is Stage of the bytes of parts one after the other, written
// with writev: for content made of many pieces (a trust bundle of ~150
// certificate files, 200 KiB), which need not be copied into one buffer
// first.
func StageParts(path string, parts [][]byte, perm fs.FileMode, o Options) (*Staged, error) {
	tmp, err := stage(path, parts, perm, o)
	if err != nil {
		return nil, err
	}
	return &Staged{path: path, tmp: tmp}, nil
}

// Path is the destination.
func (st *Staged) Path() string { return st.path }

// Commit renames the staged file over its destination, which must be
// absent or a regular file, and fsyncs the directory unless o.NoDirSync.
// On error the temporary file is removed and the destination is as it was.
func (st *Staged) Commit(o Options) error {
	// Checked right before the rename: the window is small, and rename
	// itself never follows a link, so the worst case is replacing a link
	// that appeared in between rather than writing through it.
	if err := checkDest(st.path); err != nil {
		os.Remove(st.tmp)
		return err
	}
	if err := os.Rename(st.tmp, st.path); err != nil {
		os.Remove(st.tmp)
		return fmt.Errorf("write %s: rename: %w", st.path, err)
	}
	if o.NoDirSync {
		return nil
	}
	return SyncDir(parent(st.path))
}

// Abort removes the staged file.
func (st *Staged) Abort() { os.Remove(st.tmp) }

// stage writes data complete and durable into a new temporary file beside
// path (mode perm, owner per o) and returns its name; on error nothing is
// left behind.
func stage(path string, parts [][]byte, perm fs.FileMode, o Options) (tmp string, err error) {
	f, err := os.CreateTemp(parent(path), TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	tmp = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// Permissions first, so secret bytes never sit in a file with the
	// default CreateTemp mode longer than needed (CreateTemp uses 0600 anyway).
	if err = f.Chmod(perm); err != nil {
		return "", fmt.Errorf("write %s: chmod: %w", path, err)
	}
	if o.Chown {
		if err = f.Chown(o.UID, o.GID); err != nil {
			return "", fmt.Errorf("write %s: chown: %w", path, err)
		}
		// chown may clear set-id bits; re-apply the mode.
		if err = f.Chmod(perm); err != nil {
			return "", fmt.Errorf("write %s: chmod: %w", path, err)
		}
	}
	if err = writeParts(f, parts); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("write %s: close: %w", path, err)
	}
	return tmp, nil
}

// writeParts writes the bytes of parts to f in order: one write for one
// part, else writev, as many times as the kernel takes fewer bytes or
// iovecs (IOV_MAX is 1024 on Linux).
func writeParts(f *os.File, parts [][]byte) error {
	if len(parts) == 1 {
		_, err := f.Write(parts[0])
		return err
	}
	rest := make([][]byte, 0, len(parts))
	for _, p := range parts {
		if len(p) > 0 {
			rest = append(rest, p)
		}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		for len(rest) > 0 {
			n, err := unix.Writev(int(fd), rest[:min(len(rest), 1024)])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			if n == 0 {
				werr = io.ErrShortWrite
				return true
			}
			for n > 0 {
				if n < len(rest[0]) {
					rest[0] = rest[0][n:]
					break
				}
				n -= len(rest[0])
				rest = rest[1:]
			}
		}
		return true
	}); err != nil {
		return err
	}
	return werr
}

// parent is path's directory, "." for a bare name.
func parent(path string) string {
	if dir := filepath.Dir(path); dir != "" {
		return dir
	}
	return "."
}

// Symlink atomically makes path a symbolic link to target: where nothing is
// it creates the link there, else under a temporary name renamed over path. Unlike WriteFile it may
// replace an existing symlink (that is its job) but not a regular file or a
// directory unless replaceFile is set.
func Symlink(target, path string, replaceFile bool) error {
	for free := true; ; free = false {
		fi, err := os.Lstat(path)
		switch {
		case err == nil && fi.IsDir():
			return fmt.Errorf("link %s: is a directory", path)
		case err == nil && fi.Mode().IsRegular() && !replaceFile:
			return fmt.Errorf("link %s: %w", path, ErrNotRegular)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("link %s: %w", path, err)
		}
		if err == nil || !free {
			break
		}
		// A free name is taken atomically by symlink(2) itself; if
		// something got there first, look at it again.
		err = os.Symlink(target, path)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("link %s: %w", path, err)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// Making a link is exclusive: a name somebody else took fails with
	// EEXIST and the next random name is tried, as os.CreateTemp does for
	// files (which would cost a file's inode made and removed per link).
	for try := 0; ; try++ {
		tmp := filepath.Join(dir, TempPrefix+base+"-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		err := os.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) && try < 10000 {
			continue
		}
		if err != nil {
			return fmt.Errorf("link %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("link %s: rename: %w", path, err)
		}
		return nil
	}
}

// SyncDir fsyncs a directory so that renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// IsTemp reports whether a directory entry name is one of this package's
// temporary files.
func IsTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }

// CleanTemps removes leftover temporary files (from a crashed run) in dir.
// It returns the first error but tries every entry.
func CleanTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	var first error
	for _, e := range ents {
		if IsTemp(e.Name()) && !e.IsDir() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && first == nil {
				first = fmt.Errorf("clean %s: %w", dir, err)
			}
		}
	}
	return first
}

func checkDest(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("write %s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	return nil
}
