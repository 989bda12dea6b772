package hashlink

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/certinit/certinit/internal/atomicfile"
)

// lockDir serialises Rehash runs on one directory with an exclusive
// flock(2) on the directory itself: no lock file appears among the links,
// and the kernel drops the lock when a process dies, so a run killed
// midway never blocks the next. Under the lock, temporary links that a
// killed run left behind are certainly dead and can be removed.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: lock: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// dropTemps removes the temporary links (named by placeLink) that a killed
// run left in dir, and returns ents without them. Temporary names start
// with atomicfile.TempPrefix and end in digits, so no reader takes them for
// a certificate or a hash link; removing them makes a re-run end in exactly
// the state of an uninterrupted one. Regular temporary files are not
// Rehash's and are left to their writer.
func dropTemps(dir string, ents []fs.DirEntry, log *slog.Logger) []fs.DirEntry {
	out := ents[:0]
	for _, e := range ents {
		if atomicfile.IsTemp(e.Name()) && e.Type()&fs.ModeSymlink != 0 {
			p := filepath.Join(dir, e.Name())
			if err := os.Remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
				log.Debug("rehash: removed a temporary link left by an interrupted run", "path", p)
				continue
			}
		}
		out = append(out, e)
	}
	return out
}
