package hashlink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/dirlock"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

// Rehash brings dir's hash links in line with its certificates and CRLs,
// making the links `openssl rehash` (OpenSSL 3) makes: see the package doc
// for the differences. It holds dir's lock (internal/dirlock) for the whole
// run, waiting for it until ctx is done, and first removes the temporary
// links a killed run left. It returns what it did; the error, if any, joins
// every problem that makes `openssl rehash` fail too (unwritable directory,
// unreadable file, more than 256 objects with one hash, a failed link).
func Rehash(ctx context.Context, dir string, opts Options) (*Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := writableDir(dir); err != nil {
		return nil, err
	}
	unlock, err := dirlock.Lock(ctx, dir, log)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ents, err := os.ReadDir(dir) // sorted by name, byte-wise, as OpenSSL sorts
	if err != nil {
		return nil, userfile.PathError(dir, err)
	}
	ents = dropTemps(dir, ents, log)

	var errs []error
	res := &Result{}
	p := &Planner{Old: opts.Old, Compat: opts.Compat}
	scans := make([]scanned, len(ents))
	for i, e := range ents {
		path := filepath.Join(dir, e.Name())
		scans[i] = scan(path, e)
		s := scans[i]
		switch {
		case s.link != nil:
			if err := p.AddLink(*s.link, s.target); err != nil {
				log.Warn("rehash: hash link left as it is", "path", path, "err", err.Error())
			}
		case s.readErr != nil:
			log.Error("rehash: cannot read file", "path", path, "err", s.readErr.Error())
			res.Skipped = append(res.Skipped, e.Name())
			errs = append(errs, s.readErr)
		case s.skip != nil:
			log.Warn("rehash: skipping file", "path", path, "reason", s.skip.Error())
			res.Skipped = append(res.Skipped, e.Name())
		case s.obj != nil:
			dup, err := p.AddFile(e.Name(), s.obj)
			if dup {
				log.Warn("rehash: skipping file", "path", path, "reason", "duplicate "+s.obj.Kind.String()+" (same SHA-1 fingerprint as a file earlier in name order)")
				res.Skipped = append(res.Skipped, e.Name())
			}
			if err != nil {
				log.Error("rehash: cannot link file", "path", path, "err", err.Error())
				errs = append(errs, fmt.Errorf("%s: %w", path, err))
			}
		}
	}
	errs = append(errs, apply(dir, ents, scans, p.Plan(opts.NoRemove), log, res)...)
	return res, errors.Join(errs...)
}

// writableDir checks, before anything is done in dir, that it is a
// directory this process may write, and says which of these it is not.
func writableDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return userfile.PathError(dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%s: not a directory", dir)
	}
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return fmt.Errorf("%s: cannot write: %w", dir, err)
	}
	return nil
}

// scanned is what Rehash learns about one directory entry: an existing
// hash link (link and target), or a candidate file's object, or why the
// file gets no link (skip) or could not be read (readErr). Everything else
// is left at its zero value.
type scanned struct {
	link    *LinkName
	target  string
	obj     *Object
	skip    error
	readErr error
}

// scan looks at one entry as OpenSSL's do_dir does: a symbolic link whose
// name is a hash link name is an existing link (if it cannot be read,
// OpenSSL falls back to reading it as a file, which its name rules out);
// any other entry with a candidate name is read and classified.
func scan(path string, e fs.DirEntry) scanned {
	if e.Type()&fs.ModeSymlink != 0 {
		if n, ok := ParseLinkName(e.Name()); ok {
			target, err := os.Readlink(path)
			if err != nil {
				return scanned{}
			}
			return scanned{link: &n, target: target}
		}
	}
	if !IsCandidate(e.Name()) {
		return scanned{}
	}
	data, err := pemfile.ReadFile(path)
	switch {
	case errors.Is(err, syscall.EISDIR):
		return scanned{skip: errors.New("is a directory")}
	case errors.Is(err, userfile.ErrTooLarge), errors.Is(err, userfile.ErrNotRegular):
		// Not unreadable, just not a certificate file: openssl would
		// read the first and block on a FIFO.
		return scanned{skip: errors.New(strings.TrimPrefix(err.Error(), path+": "))}
	case err != nil:
		return scanned{readErr: err}
	}
	obj, err := Classify(data)
	if err != nil {
		return scanned{skip: err}
	}
	return scanned{obj: obj}
}

// dropTemps removes the temporary links (atomicfile.Symlink's) that a killed
// run left in dir, and returns ents without them. Under dir's lock such a
// link is certainly dead; removing it makes a re-run end in exactly the
// state of an uninterrupted one. Regular temporary files are not Rehash's
// and are left to their writer.
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
