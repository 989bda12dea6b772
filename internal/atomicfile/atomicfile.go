// Package atomicfile is certinit's one disk writer: every file certinit creates
// or replaces (trust-store bundles, copied keys, ACME output, hash-link targets)
// goes through WriteFile, WriteFiles or Symlink here.
//
// A write is: create a temporary file in the destination's directory (so the
// final rename never crosses a file system), chmod, optionally chown, write,
// fsync, close, rename over the destination, fsync the directory. A reader
// therefore sees either the old bytes or the new ones, never a mix. If any
// step fails the temporary file is removed (a full disk included), and the
// destination is as it was; only a crash can leave a temporary file, whose
// name starts with TempPrefix.
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
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/certinit/certinit/internal/userfile"
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
	// NoSync skips the fsyncs, of the files and of the directory, for
	// copies that certinit rebuilds from their source at every start: a
	// reader still gets each file complete (the rename gives that), but a
	// power cut may leave the old file, or an empty one, which the next
	// start replaces. Everything else is durable.
	NoSync bool
}

// ErrNotRegular is matched (errors.Is) by every refusal of this package to
// replace what is at a destination: anything but a regular file for
// WriteFile and WriteFiles (see Refusal), a regular file for Symlink
// unless asked to.
var ErrNotRegular = errors.New("not a regular file")

// Refusal says, in words, why a write refuses to replace a file of mode m
// ("is a symbolic link, not a regular file; certinit does not write
// through links"). It wraps ErrNotRegular. Callers prefix the path;
// truststore's preflight check uses it to word the same refusal before it
// writes anything.
func Refusal(m fs.FileMode) error {
	if m&fs.ModeSymlink != 0 {
		return fmt.Errorf("is a symbolic link, %w; certinit does not write through links", ErrNotRegular)
	}
	return fmt.Errorf("is a %s, %w; certinit replaces only regular files", userfile.TypeName(m), ErrNotRegular)
}

// WriteFile atomically replaces path with data and permission perm.
// The destination's parent directory must exist.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	_, err := WriteFiles([]File{{Path: path, Data: data, Perm: perm}}, Options{})
	return err
}

// writeTemp writes data, complete and durable, into a new temporary file
// beside path (mode perm, owner per o) and returns its name. On error
// nothing is left behind.
func writeTemp(path string, data []byte, perm fs.FileMode, o Options) (string, error) {
	f, err := os.CreateTemp(parent(path), TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return "", fmt.Errorf("write %w", userfile.PathError(path, err))
	}
	if err := fill(f, data, perm, o); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return f.Name(), nil
}

// fill gives f its mode and owner, writes data, fsyncs and closes it. The
// mode comes first, so that secret bytes never sit in a file with a wider
// mode (CreateTemp makes it 0600).
func fill(f *os.File, data []byte, perm fs.FileMode, o Options) error {
	// The errors of *os.File name the operation and the temporary file.
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if o.Chown {
		if err := f.Chown(o.UID, o.GID); err != nil {
			return err
		}
		// chown may clear set-id bits; re-apply the mode.
		if err := f.Chmod(perm); err != nil {
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if !o.NoSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync: %w", err)
		}
	}
	return f.Close()
}

// parent is path's directory, "." for a bare name.
func parent(path string) string {
	if dir := filepath.Dir(path); dir != "" {
		return dir
	}
	return "."
}

// checkDest returns an error wrapping ErrNotRegular when path exists and is
// not a regular file.
func checkDest(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %w", userfile.PathError(path, err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("write %s: %w", path, Refusal(fi.Mode()))
	}
	return nil
}

// SyncDir fsyncs a directory so that renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %w", userfile.PathError(dir, err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync dir %w", userfile.PathError(dir, err))
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
		return fmt.Errorf("clean %w", userfile.PathError(dir, err))
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
