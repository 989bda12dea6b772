package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
)

// File is one file of a WriteFiles group.
type File struct {
	Path string
	Data []byte
	Perm fs.FileMode
}

// WriteFiles replaces a group of files that readers load together (a
// certificate and its key): every file is first written complete and
// durable under a temporary name beside its destination, then all are
// renamed into place one right after the other, in the order given, and
// each directory is synced once. A reader that opens the files one by one
// can meet a mix of old and new only within those renames (microseconds),
// not for as long as the fsyncs take, as with one WriteFile after the
// other; a failure before the renames leaves every destination as it was.
// Like WriteFile it refuses to replace anything but a regular file. It
// returns the paths renamed into place, also on error.
func WriteFiles(files []File, o Options) (written []string, err error) {
	staged := make([]string, 0, len(files))
	defer func() {
		for _, p := range staged[len(written):] {
			os.Remove(p)
		}
	}()
	for _, f := range files {
		if err := checkDest(f.Path); err != nil {
			return nil, err
		}
		tmp, err := stage(f.Path, f.Data, f.Perm, o)
		if err != nil {
			return nil, err
		}
		staged = append(staged, tmp)
	}
	dirs := map[string]bool{}
	for i, f := range files {
		if err := checkDest(f.Path); err != nil {
			return written, err
		}
		if err := os.Rename(staged[i], f.Path); err != nil {
			return written, fmt.Errorf("write %s: rename: %w", f.Path, err)
		}
		written = append(written, f.Path)
		dirs[parent(f.Path)] = true
	}
	for d := range dirs {
		if err := SyncDir(d); err != nil {
			return written, err
		}
	}
	return written, nil
}
