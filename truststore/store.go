package truststore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
)

// Store is an OS trust store under a root directory.
type Store struct {
	root   *fsRoot
	layout *Layout
	eng    engine
	log    *slog.Logger
	now    func() time.Time // test seam

	// bundleSynced is the host directory the last bundle write fsynced
	// ("" when the bundle was left as it was).
	bundleSynced string
}

// source is one file that contributes certificates to the store.
type source struct {
	path  string // in-root path
	data  []byte
	certs []*srcCert
	local bool
	link  string // Debian/Alpine: name of its link in CertsDir
}

// srcCert is one certificate of a source file. A distribution's store
// holds about 150 and an install needs only their DER (fingerprints, the
// bundle, hash links), so the Debian and Alpine sources are not handed to
// crypto/x509 until a report or a listing asks for one (parsed): that
// parse was a third of a container's start-up with --trust. Sources the
// other engines read are parsed at once (they filter on the contents).
type srcCert struct {
	Raw []byte // the certificate's DER, as x509.Certificate.Raw

	pre  *x509.Certificate // set when made from a parsed certificate
	once sync.Once
	c    *x509.Certificate
	err  error
}

// parsed returns the certificate parsed by crypto/x509 (once).
func (sc *srcCert) parsed() (*x509.Certificate, error) {
	if sc.pre != nil {
		return sc.pre, nil
	}
	sc.once.Do(func() { sc.c, sc.err = x509.ParseCertificate(sc.Raw) })
	return sc.c, sc.err
}

// srcCerts wraps certificates parsed already.
func srcCerts(cs []*x509.Certificate) []*srcCert {
	out := make([]*srcCert, len(cs))
	for i, c := range cs {
		out[i] = &srcCert{Raw: c.Raw, pre: c}
	}
	return out
}

// syncOptions say what a sync should leave out or redo.
type syncOptions struct {
	fresh   bool
	exclude map[string]bool // in-root paths of local files being removed
	dropFPs map[string]bool // fingerprints leaving the store (kept bundles)
	// certsDir, when not nil, is the Debian/Alpine CertsDir as read
	// earlier in this operation, with nothing written there since
	// (Install reads it beside the sources; see stageNewCerts).
	certsDir *vdir
	// prior, when not nil, are the Debian/Alpine sources as read earlier
	// in this operation, which since wrote only local files: the
	// distribution's sources among them are taken as they are, without
	// parsing the conf file and looking up ~150 files again.
	prior []source
	// ahead, when not nil, is the bundle Install expected sync to make,
	// being staged since before the local files were written.
	ahead *bundleAhead
}

// bundleAheadEngine is an engine that can make the bundle before sync
// (Debian and Alpine).
type bundleAheadEngine interface {
	bundleAhead(prior []source, added map[string][]byte) *bundleAhead
}

// bundleAhead is a bundle made and staged before sync (see
// debianEngine.bundleAhead): srcs are the sources it concatenates.
type bundleAhead struct {
	srcs   []source
	bundle bundleParts
	staged *stagedFiles
}

// engine is one family's way to turn sources into links and a bundle.
type engine interface {
	sources(o syncOptions) ([]source, error)
	sync(o syncOptions) (changes, error)
}

// Report says what an operation did. Paths are inside the root.
type Report struct {
	Store   string `json:"store"`
	Bundle  string `json:"bundle"`
	Added   []Cert `json:"added,omitempty"`   // newly installed
	Present []Cert `json:"present,omitempty"` // already in the store
	Removed []Cert `json:"removed,omitempty"`
	// Links created and removed in the store's link and hash directories.
	LinksCreated []string `json:"links_created,omitempty"`
	LinksRemoved []string `json:"links_removed,omitempty"`
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
	} else if l, err = LayoutByName(spec); err != nil {
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

func (s *Store) report() *Report {
	return &Report{Store: s.layout.Name, Bundle: s.layout.Bundle}
}

// begin takes the store's lock and removes what a crashed run left.
func (s *Store) begin(ctx context.Context) (func(), error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	s.cleanTemps()()
	return unlock, nil
}

// lock takes the store's lock and forgets what an earlier operation read.
func (s *Store) lock(ctx context.Context) (func(), error) {
	unlock, err := lockRoot(ctx, s.root.dir, s.log)
	if err != nil {
		return nil, err
	}
	s.root.forget()
	return unlock, nil
}

// cleanTemps returns what removes the temporary files a crashed run left
// in the managed directories but those in except (in-root, cleaned some
// other way). The directories are resolved now; the removal, a listing of
// each, may run beside reading the store (readers skip temporary names)
// but before anything is staged there.
func (s *Store) cleanTemps(except ...string) func() {
	var dirs, hps []string
	for _, d := range s.layout.managedDirs() {
		if slices.Contains(except, d) {
			continue
		}
		if hp, err := s.root.resolve(d, true); err == nil {
			dirs, hps = append(dirs, d), append(hps, hp)
		}
	}
	return func() {
		for i, hp := range hps {
			if err := atomicfile.CleanTemps(hp); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Warn("cannot clean temporary files", "path", dirs[i], "err", err)
			}
		}
	}
}

// beginSources is begin followed by reading the store's sources.
func (s *Store) beginSources(ctx context.Context) ([]source, func(), error) {
	unlock, err := s.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	srcs, err := s.eng.sources(syncOptions{})
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return srcs, unlock, nil
}

// Install adds the certificates in files (PEM bundles or DER) to the store
// as one file each, then regenerates links and the bundle. Every input is
// read and checked before anything is written: on error the store is left
// as it was. Certificates already in the store are reported as Present.
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
	if opts.MozillaRoots {
		moz, err := mozillaRoots(s.log)
		if err != nil {
			return nil, err
		}
		certs = append(certs, moz...)
	}
	if len(certs) == 0 {
		return nil, errors.New("nothing to install: give certificate files or --mozilla-roots")
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// What a crashed run left is removed, and then new certificate files
	// are written, while the sources are read (see ahead.go); deferred
	// after unlock, so run before it.
	ahead := s.stageNewCerts(certs)
	defer ahead.discard()
	srcs, err := s.eng.sources(syncOptions{})
	if err != nil {
		return nil, err
	}
	// Described (newCert) only when reported: the store holds hundreds.
	type held struct {
		src *source
		nc  *Cert
	}
	have := map[string]held{}
	for i := range srcs {
		for _, c := range srcs[i].certs {
			have[fingerprint(c.Raw)] = held{src: &srcs[i]}
		}
	}
	rep := s.report()
	type write struct {
		path string
		data []byte
	}
	var writes []write
	for _, c := range certs {
		fp := fingerprint(c.Raw)
		if old, ok := have[fp]; ok {
			if old.nc == nil {
				// Same fingerprint, same DER: the input describes it.
				nc := newCert(c, old.src.path, old.src.local, s.now())
				old.nc = &nc
				have[fp] = old
			}
			rep.Present = append(rep.Present, *old.nc)
			continue
		}
		p := path.Join(s.layout.LocalDir, stableName(c)+s.layout.LocalExt)
		nc := newCert(c, p, true, s.now())
		have[fp] = held{nc: &nc}
		rep.Added = append(rep.Added, nc)
		writes = append(writes, write{p, pemfile.EncodeCerts(c)})
	}
	ahead.wait() // the clean-up is done: preflight sees the space it freed
	var bundle *bundleAhead
	if len(writes) > 0 {
		files := make(map[string][]byte, len(writes))
		for _, w := range writes {
			files[w.path] = w.data
		}
		if err := s.preflight(files); err != nil {
			return nil, err
		}
		if err := s.root.mkdirAll(s.layout.LocalDir); err != nil {
			return nil, err
		}
		// The bundle sync will most likely make is staged now, while the
		// new files are written and the links planned (its fsync takes
		// milliseconds); sync uses it when its sources are the ones
		// expected.
		if be, ok := s.eng.(bundleAheadEngine); ok {
			if bundle = be.bundleAhead(srcs, files); bundle != nil {
				defer bundle.staged.discard()
			}
		}
	}
	// A dir: store keeps the certificate files beside the bundle, whose
	// write fsyncs that directory after the links: one fsync for all.
	var bundleDir string
	if len(writes) > 0 {
		if hp, err := s.root.resolve(s.layout.Bundle, false); err == nil {
			bundleDir = path.Dir(hp)
		}
	}
	var written []string // host paths of new files, removed again on failure
	var touched []string // host paths written
	pending := ""        // directory whose fsync waits for the bundle's
	for _, w := range writes {
		hp, err := s.root.resolve(w.path, false)
		if err == nil {
			_, statErr := os.Lstat(hp)
			touched = append(touched, hp)
			var o atomicfile.Options
			if path.Dir(hp) == bundleDir {
				o.NoDirSync, pending = true, bundleDir
			}
			if err = ahead.write(hp, [][]byte{w.data}, o); err == nil && errors.Is(statErr, os.ErrNotExist) {
				written = append(written, hp)
			}
		}
		if err != nil {
			// Nothing links to the new files yet: taking them out
			// leaves the store as it was.
			for _, p := range written {
				os.Remove(p)
			}
			if len(written) > 0 {
				atomicfile.SyncDir(path.Dir(written[0]))
			}
			return nil, err
		}
	}
	ahead.discard()
	// The sources read above stay as they were, except the files written:
	// sync reads and parses only those again.
	s.root.wrote(touched...)
	s.bundleSynced = ""
	ch, err := s.eng.sync(syncOptions{certsDir: ahead.certsDir(), prior: srcs, ahead: bundle})
	rep.LinksCreated, rep.LinksRemoved = ch.created, ch.removed
	if pending != "" && (err != nil || s.bundleSynced != pending) {
		if serr := atomicfile.SyncDir(pending); err == nil {
			err = serr
		}
	}
	return rep, err
}

// Remove takes certificates out of the store. Each argument is a NAME (a
// local source file's name, with or without extension, as List shows it)
// or a certificate FILE whose certificates are looked up by fingerprint.
// Only locally installed certificates can be removed; the distribution's
// are deselected in its own configuration. Nothing changes unless every
// argument matches.
func (s *Store) Remove(ctx context.Context, args []string) (*Report, error) {
	srcs, unlock, err := s.beginSources(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
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
			if xc, err := c.parsed(); err == nil {
				rep.Removed = append(rep.Removed, newCert(xc, src.path, true, s.now()))
			} else {
				s.log.Warn("removing a certificate that does not parse; it is not in the report", "path", src.path, "err", err)
			}
		}
	}
	// Links and bundle first, so no link ever points to a deleted file.
	ch, err := s.eng.sync(syncOptions{exclude: victims, dropFPs: drop})
	rep.LinksCreated, rep.LinksRemoved = ch.created, ch.removed
	if err != nil {
		return rep, err
	}
	dirs := map[string]bool{}
	for _, p := range sortedKeys(victims) {
		hp, err := s.root.resolve(p, false)
		if err != nil {
			return rep, err
		}
		if err := os.Remove(hp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, fmt.Errorf("remove %s: %w", p, err)
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
							return nil, fmt.Errorf("%s: %s comes from the distribution (%s); deselect it in its configuration instead", arg, c.Subject, src.path)
						}
						out = append(out, src.path)
						found = true
					}
				}
			}
			if !found {
				return nil, fmt.Errorf("%s: certificate %s is not in the store", arg, c.Subject)
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
	s.root.forget()
	srcs, err := s.eng.sources(syncOptions{})
	if err != nil {
		return nil, err
	}
	var out []Cert
	for _, src := range srcs {
		for _, c := range src.certs {
			xc, err := c.parsed()
			if err != nil {
				s.log.Warn("certificate does not parse; not listed (it stays in the bundle)", "path", src.path, "err", err)
				continue
			}
			cert := newCert(xc, src.path, src.local, s.now())
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
	unlock, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep := s.report()
	ch, err := s.eng.sync(syncOptions{fresh: fresh})
	rep.LinksCreated, rep.LinksRemoved = ch.created, ch.removed
	return rep, err
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Inputs are certificate files read and checked (ReadInputs), to be
// installed as they were read: a caller that must stop on bad input
// before other work, and remember what it installed, reads each file once.
type Inputs struct {
	files []inputFile
}

type inputFile struct {
	path  string
	data  []byte
	certs []*x509.Certificate
}

// ReadInputs reads and checks the certificate files as Install does before
// it writes anything, and returns the error Install would.
func ReadInputs(files []string, opts InstallOptions) (*Inputs, error) {
	in := &Inputs{files: make([]inputFile, 0, len(files))}
	for _, f := range files {
		data, certs, err := readInput(f, opts)
		if err != nil {
			return nil, err
		}
		in.files = append(in.files, inputFile{path: f, data: data, certs: certs})
	}
	return in, nil
}

// Data returns the bytes read from path, or nil when it is not one of the
// files.
func (in *Inputs) Data(path string) []byte {
	for _, f := range in.files {
		if f.path == path {
			return f.data
		}
	}
	return nil
}

// WriteDirs returns the host directories an operation on the store may
// write in: the managed directories and those of its compatibility links,
// resolved inside the root as far as they exist.
func (s *Store) WriteDirs() []string {
	dirs := s.layout.managedDirs()
	for _, c := range s.layout.Compat {
		dirs = append(dirs, path.Dir(c.Path))
	}
	var out []string
	for _, d := range dirs {
		if hp, err := s.root.resolve(d, true); err == nil {
			out = append(out, hp)
		}
	}
	return out
}
