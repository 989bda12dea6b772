package hashlink

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/userfile"
)

// This file carries out a plan so that no still-valid link is ever missing:
// each link is made by atomicfile.Symlink (directly where the name is free,
// else under a temporary name renamed over what is there), and stale links
// are removed only after every new link exists. OpenSSL unlinks first and
// then creates, leaving a moment in which a TLS handshake can fail to find
// the CA.

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
		if err := atomicfile.Symlink(l.Target, filepath.Join(dir, l.Name), true); err != nil {
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
			errs = append(errs, fmt.Errorf("remove %w", userfile.PathError(path, err)))
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

// sortedLinks returns the links of m sorted by name.
func sortedLinks(m map[string]string) []Link {
	out := make([]Link, 0, len(m))
	for n, t := range m {
		out = append(out, Link{Name: n, Target: t})
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })
	return out
}
