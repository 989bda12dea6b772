package hashlink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

// scanned is what the parallel phase learns about one directory entry.
type scanned struct {
	job    jobKind
	key    bucketKey // hash links: the parsed name
	id     uint16
	target string // hash links: readlink
	obj    *Object
	skip   string // candidate files: why the file gets no link
	err    error  // candidate files: why it could not be read
}

type jobKind uint8

const (
	jobNone jobKind = iota
	jobLink
	jobFile
)

// Rehash brings dir's hash links in line with its certificates and CRLs,
// making the links `openssl rehash` (OpenSSL 3) makes: see the package doc
// for the differences. Files are read in parallel; links are decided in
// OpenSSL's order. Runs on one directory are serialised by a flock on it,
// under which temporary links left by a killed run are removed. It returns
// what it did; the error, if any, joins every problem that made OpenSSL's
// rehash fail too (unwritable directory, unreadable file, more than 256
// objects with one hash, a failed link).
func Rehash(dir string, opts Options) (*Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return nil, fmt.Errorf("%s: cannot write: %w", dir, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ents, err := os.ReadDir(dir) // sorted by name, byte-wise, as OpenSSL sorts
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	ents = dropTemps(dir, ents, log)
	scans := scanDir(dir, ents)

	var errs []error
	res := &Result{}
	p := newPlanner()
	for i, e := range ents {
		s := &scans[i]
		switch s.job {
		case jobLink:
			if err := p.addLink(s.key, s.target, s.id); err != nil {
				log.Warn("rehash: ignoring link", "path", filepath.Join(dir, e.Name()), "reason", err.Error())
			}
		case jobFile:
			if err := addFile(p, dir, e.Name(), s, opts, log, res); err != nil {
				errs = append(errs, err)
			}
		}
	}
	pl := p.plan(opts.NoRemove)
	errs = append(errs, apply(dir, ents, scans, pl, log, res)...)
	return res, errors.Join(errs...)
}

// addFile feeds one candidate file to the planner, or records why not.
func addFile(p *planner, dir, name string, s *scanned, opts Options, log *slog.Logger, res *Result) error {
	path := filepath.Join(dir, name)
	if s.err != nil {
		log.Error("rehash: cannot read file", "path", path, "err", s.err.Error())
		res.Skipped = append(res.Skipped, name)
		return s.err
	}
	if s.skip != "" {
		log.Warn("rehash: skipping file", "path", path, "reason", s.skip)
		res.Skipped = append(res.Skipped, name)
		return nil
	}
	typ := typeCert
	if s.obj.Kind == CRL {
		typ = typeCRL
	}
	var hashes []uint32
	if !opts.Old || opts.Compat {
		hashes = append(hashes, s.obj.Hash)
	}
	if opts.Old || opts.Compat {
		hashes = append(hashes, s.obj.HashOld)
	}
	for _, h := range hashes {
		dup, err := p.addFile(bucketKey{typ: typ, hash: h}, name, s.obj.Fingerprint)
		if err != nil {
			log.Error("rehash: cannot link file", "path", path, "err", err.Error())
			return fmt.Errorf("%s: %w", path, err)
		}
		if dup {
			log.Warn("rehash: skipping file", "path", path, "reason", "duplicate "+s.obj.Kind.String()+" (same SHA-1 fingerprint as a file earlier in name order)")
			res.Skipped = append(res.Skipped, name)
			return nil
		}
	}
	return nil
}

// scanDir reads every hash link's target and parses every candidate file,
// in parallel over the available CPUs.
func scanDir(dir string, ents []fs.DirEntry) []scanned {
	scans := make([]scanned, len(ents))
	var jobs []int
	for i, e := range ents {
		name := e.Name()
		if e.Type()&fs.ModeSymlink != 0 {
			if ln, ok := ParseLinkName(name); ok {
				scans[i] = scanned{job: jobLink, key: keyOf(ln), id: ln.ID}
				jobs = append(jobs, i)
				continue
			}
		}
		if IsCandidate(name) {
			scans[i].job = jobFile
			jobs = append(jobs, i)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(jobs)+31)/32)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch [512]byte
			for {
				j := int(next.Add(1)) - 1
				if j >= len(jobs) {
					return
				}
				i := jobs[j]
				path := filepath.Join(dir, ents[i].Name())
				if scans[i].job == jobLink {
					t, err := os.Readlink(path)
					if err != nil {
						// OpenSSL falls back to reading it as a file, which
						// its extension rules out: the entry is ignored.
						scans[i].job = jobNone
						continue
					}
					scans[i].target = t
					continue
				}
				scanFile(path, scratch[:0], &scans[i])
			}
		}()
	}
	wg.Wait()
	return scans
}

// scanFile reads and classifies one candidate file as OpenSSL's do_file
// does.
func scanFile(path string, scratch []byte, s *scanned) {
	data, err := pemfile.ReadFile(path)
	if err != nil {
		switch {
		case errors.Is(err, syscall.EISDIR):
			s.skip = "is a directory"
		case errors.Is(err, userfile.ErrTooLarge), errors.Is(err, userfile.ErrNotRegular):
			// Not unreadable, just not a certificate file: openssl
			// would read the first and hang on the second.
			s.skip = strings.TrimPrefix(err.Error(), path+": ")
		default:
			s.err = err
		}
		return
	}
	first, n, err := readInfos(data, scratch, true)
	switch {
	case err != nil:
		s.skip = "OpenSSL cannot load it: " + err.Error()
	case n == 0 && !bytes.Contains(data, beginMarker):
		s.skip = "not PEM (DER files get no link: capath lookups read PEM only)"
	case n == 0:
		s.skip = "no certificate or CRL in it"
	case n > 1:
		s.skip = "holds more than one certificate, CRL or key; split bundles into one file each"
	case first.obj == nil:
		s.skip = "holds a private key but no certificate or CRL"
	default:
		s.obj = first.obj
	}
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
