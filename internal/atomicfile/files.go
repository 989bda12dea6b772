package atomicfile

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/certinit/certinit/internal/userfile"
)

// File is one file of a WriteFiles group.
type File struct {
	Path string
	Data []byte
	Perm fs.FileMode
}

// WriteFiles replaces a group of files that readers load together (a
// certificate and its key): every file is first written complete and
// durable (unless o.NoSync) under a temporary name beside its destination,
// then all are renamed into place one right after the other, in the order
// given, and each directory is fsynced (unless o.NoSync). A reader that opens the files one by one can
// meet a mix of old and new only between those renames; a failure before
// them leaves every destination as it was. Like WriteFile it refuses to
// replace anything but a regular file, and it leaves no temporary file
// behind when it fails. It returns the paths renamed into place, also on
// error.
func WriteFiles(files []File, o Options) ([]string, error) {
	for _, f := range files {
		if err := checkDest(f.Path); err != nil {
			return nil, err
		}
	}
	temps := make([]string, 0, len(files))
	for _, f := range files {
		tmp, err := writeTemp(f.Path, f.Data, f.Perm, o)
		if err != nil {
			removeAll(temps)
			return nil, err
		}
		temps = append(temps, tmp)
	}
	var written []string
	dirs := map[string]bool{}
	for i, f := range files {
		// Checked again right before the rename: rename itself never
		// follows a link, so the worst case is replacing a link that
		// appeared in between, never writing through it.
		err := checkDest(f.Path)
		if err == nil {
			if err = os.Rename(temps[i], f.Path); err != nil {
				err = fmt.Errorf("write %s: rename: %w", f.Path, userfile.Reason(err))
			}
		}
		if err != nil {
			removeAll(temps[i:])
			return written, err
		}
		written = append(written, f.Path)
		dirs[parent(f.Path)] = true
	}
	if o.NoSync {
		return written, nil
	}
	for d := range dirs {
		if err := SyncDir(d); err != nil {
			return written, err
		}
	}
	return written, nil
}

func removeAll(paths []string) {
	for _, p := range paths {
		os.Remove(p)
	}
}
