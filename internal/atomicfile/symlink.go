package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/certinit/certinit/internal/userfile"
)

// Symlink atomically makes path a symbolic link to target: where nothing
// is, it creates the link there; else it creates it under a temporary name
// and renames that over path, so that the name never goes missing. Unlike
// WriteFile it may replace an existing symlink (that is its job) but not a
// directory, nor a regular file unless replaceFile is set.
func Symlink(target, path string, replaceFile bool) error {
	for free := true; ; free = false {
		fi, err := os.Lstat(path)
		switch {
		case err == nil && fi.IsDir():
			return fmt.Errorf("link %s: is a directory", path)
		case err == nil && fi.Mode().IsRegular() && !replaceFile:
			return linkRefusal(path)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("link %w", userfile.PathError(path, err))
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
			return fmt.Errorf("link %w", userfile.PathError(path, err))
		}
	}
	// Making a link is exclusive: a temporary name somebody else took
	// fails with EEXIST, and the next random name is tried.
	for try := 0; ; try++ {
		tmp := filepath.Join(parent(path), TempPrefix+filepath.Base(path)+"-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		err := os.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) && try < 10000 {
			continue
		}
		if err != nil {
			return fmt.Errorf("link %w", userfile.PathError(path, err))
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("link %s: rename: %w", path, userfile.Reason(err))
		}
		return nil
	}
}

// linkRefusal is Symlink's refusal to replace the regular file at path
// with a link. Like every refusal of this package it matches ErrNotRegular.
type linkRefusal string

func (p linkRefusal) Error() string {
	return "link " + string(p) + ": is a regular file, which certinit does not replace with a link here"
}

func (linkRefusal) Is(target error) bool { return target == ErrNotRegular }
