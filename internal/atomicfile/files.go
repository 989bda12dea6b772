package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// File is one file of a WriteFiles group.
type File struct {
	Path string
	Data []byte
	Perm fs.FileMode
}

// WriteFiles replaces a group of files that readers load together (a
// certificate and its key): every file is first written complete and
// durable under a temporary name beside its destination (all at once),
// then all are
// renamed into place one right after the other, in the order given, and
// each directory is synced once. A reader that opens the files one by one
// can meet a mix of old and new only within those renames (microseconds),
// not for as long as the fsyncs take, as with one WriteFile after the
// other; a failure before the renames leaves every destination as it was.
// Like WriteFile it refuses to replace anything but a regular file. It
// returns the paths renamed into place, also on error.
func WriteFiles(files []File, o Options) (written []string, err error) {
	for _, f := range files {
		if err := checkDest(f.Path); err != nil {
			return nil, err
		}
	}
	// Staged side by side: the fsyncs, milliseconds each on a virtual
	// machine's disk, overlap instead of adding up.
	staged := make([]string, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() { staged[i], errs[i] = stage(f.Path, [][]byte{f.Data}, f.Perm, o) })
	}
	wg.Wait()
	defer func() {
		for _, p := range staged[len(written):] {
			if p != "" {
				os.Remove(p)
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first, in the order given: one line
		}
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
