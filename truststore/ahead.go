package truststore

import (
	"bytes"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path"
	"sync"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
)

// This file writes what an install will most likely need while the store
// is being read, so that the fsyncs (milliseconds each on a virtual
// machine's disk) overlap with reading and hashing the ~150 sources, which
// is CPU work. Nothing here changes what the store looks like: files are
// staged under temporary names (atomicfile.Stage) and renamed into place by
// the same code, in the same order, as without staging; a staged file that
// turns out not to be needed, or one whose staging failed, is removed (and
// in the second case written the ordinary way, which reports the error).
// A crash leaves only temporary files, which the next operation removes.

// maxAhead bounds the certificate files staged before it is known that
// they are new: an install of many certificates that are mostly present
// (--mozilla-roots on every start) should not write them all for nothing.
const maxAhead = 16

// stagedFiles are files being staged by one goroutine. A nil
// *stagedFiles stages nothing and writes everything the ordinary way.
type stagedFiles struct {
	done  chan struct{}
	files map[string]*stagedFile // host path -> staged file
	// certs is the store's CertsDir as read beside the sources (Debian and
	// Alpine, when it is not LocalDir, where Install writes first).
	certs *vdir
}

type stagedFile struct {
	parts [][]byte           // the content, in pieces (see StageParts)
	st    *atomicfile.Staged // nil when staging failed
}

// stageFiles starts staging files (host path -> content in pieces, mode
// 0644) with options o, after running first (if not nil), and runs beside
// (if not nil) on a goroutine of its own meanwhile; it returns at once,
// and the staging is done when both are.
func stageFiles(first func(), beside func(*stagedFiles), files map[string][][]byte, o atomicfile.Options) *stagedFiles {
	a := &stagedFiles{done: make(chan struct{}), files: map[string]*stagedFile{}}
	for hp, parts := range files {
		a.files[hp] = &stagedFile{parts: parts}
	}
	var wg sync.WaitGroup
	if beside != nil {
		wg.Go(func() { beside(a) })
	}
	wg.Go(func() {
		if first != nil {
			first()
		}
		for hp, f := range a.files {
			f.st, _ = atomicfile.StageParts(hp, f.parts, 0o644, o) // a failure is met again by the ordinary write
		}
	})
	go func() {
		wg.Wait()
		close(a.done)
	}()
	return a
}

// stageNewCerts removes a crashed run's temporary files and then stages
// the local certificate files Install would write for certs if none were
// in the store yet, beside the caller. It stages nothing when the local
// directory does not exist yet (Install makes it only after its checks)
// or when there are too many certificates. The links directory
// (Debian's ~290 entries) is read meanwhile on a goroutine of its own,
// which removes the temporary files in it as it goes: the new files'
// fsync need not wait for that listing, nor the listing be made twice.
func (s *Store) stageNewCerts(certs []*x509.Certificate) *stagedFiles {
	l := s.layout
	files := map[string][][]byte{}
	if dir, err := s.root.resolve(l.LocalDir, true); err == nil && len(certs) <= maxAhead {
		if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
			for _, c := range certs {
				// A file of that name is the certificate installed
				// already (the name carries its fingerprint): a
				// restart stages nothing, so the directory is not
				// written at all.
				hp := dir + "/" + stableName(c) + l.LocalExt
				if _, err := os.Lstat(hp); errors.Is(err, fs.ErrNotExist) {
					files[hp] = [][]byte{pemfile.EncodeCerts(c)}
				}
			}
		}
	}
	// Nothing is written in the links directory before sync, which
	// takes this reading. When it is the local directory, also through a
	// link, its listing would remove the files being staged there.
	if l.family == familyP11Kit || l.family == familyDir || s.sameDir(l.CertsDir, l.LocalDir) {
		return stageFiles(s.cleanTemps(), nil, files, atomicfile.Options{})
	}
	return stageFiles(s.cleanTemps(l.CertsDir), func(a *stagedFiles) {
		a.certs, _ = loadVdirCleaning(s.root, l.CertsDir, s.log) // an error is met again by sync
	}, files, atomicfile.Options{})
}

// sameDir reports whether the in-root directories a and b are one, links
// resolved; true when either cannot be resolved (any doubt keeps the
// order).
func (s *Store) sameDir(a, b string) bool {
	if a == b {
		return true
	}
	ha, err := s.root.resolve(a, true)
	if err != nil {
		return true
	}
	hb, err := s.root.resolve(b, true)
	return err != nil || ha == hb
}

// certsDir is the CertsDir read beside the sources, or nil.
func (a *stagedFiles) certsDir() *vdir {
	if a == nil {
		return nil
	}
	<-a.done
	return a.certs
}

// wait waits until the staging is done.
func (a *stagedFiles) wait() {
	if a != nil {
		<-a.done
	}
}

// write writes the bytes of parts to the host path hp: by committing the
// staged file when there is one with these bytes, else with
// atomicfile.WritePartsOpts.
func (a *stagedFiles) write(hp string, parts [][]byte, o atomicfile.Options) error {
	if a != nil {
		<-a.done
		if f := a.files[hp]; f != nil && f.st != nil && partsEqual(f.parts, parts) {
			delete(a.files, hp)
			return f.st.Commit(o)
		}
	}
	return atomicfile.WritePartsOpts(hp, parts, 0o644, o)
}

// partsEqual reports whether the bytes of a and of b, each read one part
// after the other, are the same.
func partsEqual(a, b [][]byte) bool {
	var x, y []byte
	for {
		for len(x) == 0 && len(a) > 0 {
			x, a = a[0], a[1:]
		}
		for len(y) == 0 && len(b) > 0 {
			y, b = b[0], b[1:]
		}
		if len(x) == 0 || len(y) == 0 {
			return len(x) == len(y)
		}
		n := min(len(x), len(y))
		if !bytes.Equal(x[:n], y[:n]) {
			return false
		}
		x, y = x[n:], y[n:]
	}
}

// discard waits for the staging and removes every staged file not written.
func (a *stagedFiles) discard() {
	if a == nil {
		return
	}
	<-a.done
	for hp, f := range a.files {
		if f.st != nil {
			f.st.Abort()
		}
		delete(a.files, hp)
	}
}

// stageBundle stages the new bundle while the links are planned and made,
// when the bundle exists as a regular file of another size (so it changes;
// a bundle of the same size is compared first, in writeBundle) in an
// existing directory.
func (s *Store) stageBundle(b bundleParts) *stagedFiles {
	hp, err := s.root.resolve(s.layout.Bundle, false)
	if err != nil {
		return nil
	}
	fi, err := os.Lstat(hp)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == int64(b.size) {
		return nil
	}
	if _, err := os.Lstat(path.Dir(hp)); err != nil {
		return nil
	}
	return stageFiles(nil, nil, map[string][][]byte{hp: b.parts}, atomicfile.Options{})
}
