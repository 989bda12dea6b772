package hashlink

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/certinit/certinit/internal/atomicfile"
)

// This file carries out a plan so that no still-valid link is ever missing:
// a link whose name is free is created directly (nothing to lose), a link
// that replaces something is created under a temporary name and renamed over
// it (rename is atomic), and stale links are removed only after every new
// link exists. OpenSSL instead unlinks first and then creates, leaving a
// moment in which a TLS handshake can fail to find the CA.

func apply(dir string, ents []fs.DirEntry, scans []scanned, pl Plan, log *slog.Logger, res *Result) []error {
	have := make(map[string]fs.FileMode, len(ents))
	links := make(map[string]string) // the hash links, as they are now
	for i, e := range ents {
		have[e.Name()] = e.Type()
		if scans[i].link != nil {
			links[e.Name()] = scans[i].target
		}
	}
	var errs []error
	changed, full := false, false
	for i, l := range pl.Create {
		typ, ok := have[l.Name]
		if ok && typ&fs.ModeSymlink != 0 && links[l.Name] == l.Target {
			continue // already right (OpenSSL re-creates it; nothing changes)
		}
		if ok && typ.IsDir() {
			err := fmt.Errorf("%s: cannot link: a directory is in the way", filepath.Join(dir, l.Name))
			log.Error("rehash: cannot link", "path", filepath.Join(dir, l.Name), "err", err.Error())
			errs = append(errs, err)
			continue
		}
		if ok && typ.IsRegular() {
			log.Warn("rehash: replacing a regular file that has a hash link's name", "path", filepath.Join(dir, l.Name))
		}
		if err := placeLink(dir, l, ok); err != nil {
			log.Error("rehash: cannot link", "path", filepath.Join(dir, l.Name), "err", err.Error())
			if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
				// Every further link would fail the same way: one error
				// says it all. Links already there stay as they are.
				var errno syscall.Errno
				errors.As(err, &errno)
				errs = append(errs, fmt.Errorf("%s: %w: %d of %d new links not made", dir, errno, len(pl.Create)-i, len(pl.Create)))
				full = true
				break
			}
			errs = append(errs, err)
			continue
		}
		changed = true
		links[l.Name] = l.Target
		res.Added = append(res.Added, l)
	}
	for _, name := range pl.Remove {
		if full {
			// Leave the rest as it was: the last good state plus the
			// links that were made. The next run finishes the job.
			break
		}
		if typ, ok := have[name]; !ok || typ&fs.ModeSymlink == 0 {
			// OpenSSL would unlink whatever has that name; only a symlink
			// is ever a stale hash link, so anything else is left alone.
			continue
		}
		path := filepath.Join(dir, name)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Error("rehash: cannot remove stale link", "path", path, "err", err.Error())
			errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
			continue
		}
		changed = true
		delete(links, name)
		res.Removed = append(res.Removed, name)
	}
	if changed {
		if err := atomicfile.SyncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	res.Links = sortedLinks(links)
	return errs
}

var tempSeq atomic.Uint64

// placeLink makes dir/l.Name a symlink to l.Target. When the name was free
// in the listing it is created directly; if something appeared there since,
// or the name was taken, the link is made under a temporary name and renamed
// over it.
func placeLink(dir string, l Link, taken bool) error {
	path := filepath.Join(dir, l.Name)
	if !taken {
		err := os.Symlink(l.Target, path)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("link %s: %w", path, err)
		}
	}
	for range 100 {
		tmp := filepath.Join(dir, atomicfile.TempPrefix+l.Name+"-"+
			strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(tempSeq.Add(1), 10))
		err := os.Symlink(l.Target, tmp)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("link %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) {
				return fmt.Errorf("link %s: a directory is in the way", path)
			}
			return fmt.Errorf("link %s: rename: %w", path, err)
		}
		return nil
	}
	return fmt.Errorf("link %s: no free temporary name", path)
}

// sortedLinks returns the links of m sorted by name.
func sortedLinks(m map[string]string) []Link {
	out := make([]Link, 0, len(m))
	for n, t := range m {
		out = append(out, Link{Name: n, Target: t})
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })
	return out
}
