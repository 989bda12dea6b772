package truststore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

// Store is an OS trust store under a root directory.
type Store struct {
	root   *fsRoot
	layout *Layout
	eng    engine
	log    *slog.Logger
	now    func() time.Time // test seam
}

// source is one file that contributes certificates to the store.
type source struct {
	path  string // in-root path
	data  []byte
	certs []*x509.Certificate
	local bool
	link  string // Debian/Alpine: name of its link in CertsDir
}

// syncOptions say what a sync should leave out or redo.
type syncOptions struct {
	fresh   bool
	exclude map[string]bool // in-root paths of local files being removed
	dropFPs map[string]bool // fingerprints leaving the store (kept bundles)
	inputs  map[string]bool // in-root paths of the files given to Install that lie in the store
}

// engine is one family's way to turn sources into links and a bundle.
type engine interface {
	sources(o syncOptions) ([]source, error)
	sync(o syncOptions) (changes, error)
}

// Open returns the store of the OS tree under root ("/" for the running
// system). spec is auto, a layout name (debian, alpine, rhel, suse, arch)
// or dir:PATH with PATH inside root. Open reads nothing but os-release and
// changes nothing.
func Open(root, spec string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if root == "" {
		root = "/"
	}
	r, err := newFSRoot(root)
	if err != nil {
		return nil, err
	}
	var l *Layout
	if spec == "" || spec == "auto" {
		l = detect(r)
		log.Debug("trust store detected", "root", r.dir, "store", l.Name)
	} else if l, err = LayoutByName(root, spec); err != nil {
		return nil, err
	}
	s := &Store{root: r, layout: l, log: log, now: time.Now}
	switch l.family {
	case familyDebian, familyAlpine:
		s.eng = &debianEngine{s: s}
	case familyP11Kit:
		s.eng = &p11Engine{s: s}
	case familyDir:
		s.eng = &dirEngine{s: s}
	}
	return s, nil
}

// Layout returns the store's layout.
func (s *Store) Layout() *Layout { return s.layout }

// BundlePath returns the host path of the store's bundle file.
func (s *Store) BundlePath() string { return s.root.host(s.layout.Bundle) }

// Install adds the certificates in files (PEM bundles or DER) to the store
// as one file each, then regenerates links and the bundle. Every input is
// read and checked before anything is written: on bad input the store is
// left as it was. Certificates already in the store are reported as
// Present. More than 256 certificates with one subject hash is an error
// after the links are made and before the bundle is written (see
// planHashLinks); the report says what was done.
func (s *Store) Install(ctx context.Context, files []string, opts InstallOptions) (*Report, error) {
	in, err := ReadInputs(files, opts)
	if err != nil {
		return nil, err
	}
	return s.InstallInputs(ctx, in, opts)
}

// InstallInputs is Install of files read by ReadInputs (with the same
// opts): what they held when read is installed, whatever they hold now.
func (s *Store) InstallInputs(ctx context.Context, in *Inputs, opts InstallOptions) (*Report, error) {
	var certs []*x509.Certificate
	for _, f := range in.files {
		for _, c := range f.certs {
			if s.now().After(c.NotAfter) {
				s.log.Warn("certificate has expired; installing it anyway", "path", f.path, "subject", c.Subject.String(), "not_after", c.NotAfter.UTC().Format(time.RFC3339))
			}
		}
		certs = append(certs, f.certs...)
	}
	var moz []*x509.Certificate
	if opts.MozillaRoots {
		var err error
		if moz, err = MozillaRoots(s.log); err != nil {
			return nil, err
		}
	}
	certs = append(certs, moz...)
	if len(certs) == 0 {
		return nil, errors.New("nothing to install: give certificate files or --mozilla-roots")
	}
	held, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer held.release()
	srcs, err := s.eng.sources(syncOptions{})
	if err != nil {
		return nil, err
	}
	chains, err := s.checkChains(in, moz, s.heldCerts(srcs), opts)
	if err != nil {
		return nil, err
	}
	certs = append(certs, chains.roots...)
	inStore := map[string]*source{} // fingerprint -> the source holding it
	for i := range srcs {
		for _, c := range srcs[i].certs {
			inStore[fingerprint(c.Raw)] = &srcs[i]
		}
	}
	rep := s.report()
	rep.Completed, rep.Partial = chains.completed, chains.partial
	described := map[string]Cert{} // fingerprint -> as reported already
	files := map[string][]byte{}   // in-root path -> new local file
	for _, c := range certs {
		fp := fingerprint(c.Raw)
		if d, ok := described[fp]; ok {
			rep.Present = append(rep.Present, d)
			continue
		}
		if src, ok := inStore[fp]; ok {
			// Same fingerprint, same DER: the input describes it.
			d := newCert(c, src.path, src.local, s.now())
			described[fp] = d
			rep.Present = append(rep.Present, d)
			continue
		}
		p := path.Join(s.layout.LocalDir, stableName(c)+s.layout.LocalExt)
		d := newCert(c, p, true, s.now())
		described[fp] = d
		rep.Added = append(rep.Added, d)
		files[p] = pemfile.EncodeCerts(c)
	}
	if len(files) > 0 {
		if err := s.preflight(files); err != nil {
			return nil, err
		}
	}
	if err := s.lockHashDirs(held, true); err != nil {
		return nil, err
	}
	if len(files) > 0 {
		if err := s.writeLocal(files); err != nil {
			return nil, err
		}
	}
	ch, err := s.eng.sync(syncOptions{inputs: s.inStore(in)})
	rep.record(ch)
	return rep, err
}

// inStore returns the in-root paths of the input files that lie in the
// store's own directory (a dir: store's): the files a user named are
// split there, never moved away from under that name.
func (s *Store) inStore(in *Inputs) map[string]bool {
	out := map[string]bool{}
	dir, err := s.root.resolve(s.layout.LocalDir, true)
	if err != nil {
		return out
	}
	dirInfo, err := os.Stat(dir)
	if err != nil {
		return out
	}
	for _, f := range in.files {
		if f.held {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(f.path)); err == nil && os.SameFile(fi, dirInfo) {
			out[path.Join(s.layout.LocalDir, filepath.Base(f.path))] = true
		}
	}
	return out
}

// writeLocal writes the new local certificate files (in-root path ->
// content). If one cannot be written, those written before it are removed
// again: nothing links to them yet, so the store is as it was.
func (s *Store) writeLocal(files map[string][]byte) error {
	if err := s.root.mkdirAll(s.layout.LocalDir); err != nil {
		return err
	}
	var written []string // host paths of files that did not exist before
	for _, p := range slices.Sorted(maps.Keys(files)) {
		hp, err := s.root.resolve(p, false)
		if err == nil {
			_, statErr := os.Lstat(hp)
			if err = atomicfile.WriteFile(hp, files[p], 0o644); err == nil && errors.Is(statErr, fs.ErrNotExist) {
				written = append(written, hp)
			}
		}
		if err != nil {
			for _, w := range written {
				os.Remove(w)
			}
			if len(written) > 0 {
				atomicfile.SyncDir(path.Dir(written[0]))
			}
			return err
		}
	}
	return nil
}

// Remove takes certificates out of the store. Each argument is a NAME (a
// local source file's name, with or without extension, as List shows it)
// or a certificate FILE whose certificates are looked up by fingerprint.
// Only locally installed certificates can be removed; the distribution's
// are deselected in its own configuration. Nothing changes unless every
// argument matches.
func (s *Store) Remove(ctx context.Context, args []string) (*Report, error) {
	held, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer held.release()
	srcs, err := s.eng.sources(syncOptions{})
	if err != nil {
		return nil, err
	}
	victims := map[string]bool{}
	for _, arg := range args {
		matched, err := s.match(arg, srcs)
		if err != nil {
			return nil, err
		}
		for _, p := range matched {
			victims[p] = true
		}
	}
	rep := s.report()
	drop := map[string]bool{}
	for _, src := range srcs {
		if !victims[src.path] {
			continue
		}
		for _, c := range src.certs {
			drop[fingerprint(c.Raw)] = true
			rep.Removed = append(rep.Removed, newCert(c, src.path, true, s.now()))
		}
	}
	if err := s.lockHashDirs(held, true); err != nil {
		return nil, err
	}
	// Links and bundle first, so no link ever points to a deleted file.
	ch, err := s.eng.sync(syncOptions{exclude: victims, dropFPs: drop})
	rep.record(ch)
	if err != nil {
		return rep, err
	}
	dirs := map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(victims)) {
		hp, err := s.root.resolve(p, false)
		if err != nil {
			return rep, err
		}
		if err := os.Remove(hp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, fmt.Errorf("remove %w", userfile.PathError(p, err))
		}
		dirs[path.Dir(hp)] = true
	}
	for d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// match finds the local source files an argument of Remove means.
func (s *Store) match(arg string, srcs []source) ([]string, error) {
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		data, err := pemfile.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		certs, err := parseCerts(data)
		if err != nil || len(certs) == 0 {
			return nil, fmt.Errorf("%s: no certificate to remove in file", arg)
		}
		var out []string
		for _, c := range certs {
			fp := fingerprint(c.Raw)
			found := false
			for _, src := range srcs {
				for _, sc := range src.certs {
					if fingerprint(sc.Raw) == fp {
						if !src.local {
							return nil, fmt.Errorf("%s: %s comes from the distribution (%s); deselect it in its configuration instead", arg, subject(c), src.path)
						}
						out = append(out, src.path)
						found = true
					}
				}
			}
			if !found {
				return nil, fmt.Errorf("%s: certificate %s is not in the store", arg, subject(c))
			}
		}
		return out, nil
	}
	var out []string
	for _, src := range srcs {
		base := path.Base(src.path)
		if base == arg || strings.TrimSuffix(base, path.Ext(base)) == arg {
			if !src.local {
				return nil, fmt.Errorf("%s: comes from the distribution (%s); deselect it in its configuration instead", arg, src.path)
			}
			out = append(out, src.path)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no such certificate file or name in the %s store (see certinit trust list)", arg, s.layout.Name)
	}
	return out, nil
}

// List returns every certificate of the store in bundle order.
func (s *Store) List(ctx context.Context) ([]Cert, error) {
	srcs, err := s.eng.sources(syncOptions{})
	if err != nil {
		return nil, err
	}
	var out []Cert
	for _, src := range srcs {
		for _, c := range src.certs {
			cert := newCert(c, src.path, src.local, s.now())
			if src.local || len(src.certs) == 1 {
				base := path.Base(src.path)
				cert.Name = strings.TrimSuffix(base, path.Ext(base))
			}
			out = append(out, cert)
		}
	}
	return out, nil
}

// Rebuild regenerates links and the bundle from the sources, like
// update-ca-certificates (with --fresh: drop every link to a source first,
// then recreate them).
func (s *Store) Rebuild(ctx context.Context, fresh bool) (*Report, error) {
	held, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer held.release()
	if err := s.lockHashDirs(held, true); err != nil {
		return nil, err
	}
	rep := s.report()
	ch, err := s.eng.sync(syncOptions{fresh: fresh})
	rep.record(ch)
	return rep, err
}
