package truststore

import (
	"crypto/x509"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
)

// dirEngine manages a plain directory for a server's capath (Mosquitto's
// capath, OpenSSL's -CApath): one PEM file per certificate, OpenSSL hash
// links to them, and the bundle for a cafile under a name neither
// `openssl rehash` nor `certinit rehash` reads (dirBundleName). Every
// certificate file in it is a source, whoever put it there.
//
// OpenSSL's capath lookup reads one certificate per hash link, and
// openssl rehash links only files holding exactly one certificate: a file
// with several (a chain.pem of root and intermediate copied in) is trusted
// by nothing. Each such bundle is split, one file per certificate, and the
// original moved to NAME.split, out of rehash's way (unless Install was
// given it: a file the user named keeps its name); a sync reports it.
type dirEngine struct{ s *Store }

// dirBundleName is the bundle of a dir: store. Its extension is none of
// those openssl rehash reads (hashlink.IsCandidate), so a rehash of the
// directory, certinit's or OpenSSL's, neither warns about it nor links it.
const dirBundleName = "ca-certificates.bundle"

// legacyBundleName is where certinit kept a dir: store's bundle before:
// a name rehash reads, so every rehash warned about it. A file of that
// name holding nothing but certificates the store has elsewhere is that
// bundle, and goes at the next sync.
const legacyBundleName = "ca-certificates.crt"

// splitSuffix is added to the name of a bundle once it is split.
const splitSuffix = ".split"

// dirScan is what a dir: store's directory holds.
type dirScan struct {
	srcs    []source // files of one certificate, in name order
	bundles []source // files of several, to split
	legacy  *source  // certinit's old bundle, to remove
}

// scan reads the certificate files of the planned directory v: every
// regular file (or link to one) named *.pem, *.crt or *.cer that holds
// certificates and no key. Hash links and the bundle are outputs.
func (e *dirEngine) scan(v *vdir, o syncOptions) dirScan {
	s, l := e.s, e.s.layout
	var d dirScan
	var legacy *source
	for _, n := range v.names() {
		p := path.Join(l.LocalDir, n)
		ent := v.next[n]
		if ent.isDir || isHashName(n) || o.exclude[p] || !hashlink.IsCandidate(n) || path.Ext(n) == ".crl" {
			continue
		}
		data, err := v.readEntry(n)
		if err != nil {
			s.log.Warn("cannot read; leaving it out of the bundle", "path", p, "err", err)
			continue
		}
		blocks, err := pemfile.Parse(data)
		if err != nil || hasKey(blocks) {
			s.log.Warn("not a certificate file; leaving it out of the bundle", "path", p)
			continue
		}
		certs, err := parseCerts(data)
		if err != nil || len(certs) == 0 {
			continue
		}
		src := source{path: p, data: data, certs: certs, local: true}
		switch {
		case n == legacyBundleName && !ent.isLink():
			legacy = &src
		case len(certs) > 1:
			d.bundles = append(d.bundles, src)
		default:
			d.srcs = append(d.srcs, src)
		}
	}
	if legacy == nil {
		return d
	}
	have := fingerprints(slices.Concat(d.srcs, d.bundles))
	switch {
	case !slices.ContainsFunc(legacy.certs, func(c *x509.Certificate) bool { return !have[fingerprint(c.Raw)] }):
		d.legacy = legacy
	case len(legacy.certs) > 1:
		d.bundles = append(d.bundles, *legacy)
	default:
		d.srcs = append(d.srcs, *legacy)
		slices.SortFunc(d.srcs, func(a, b source) int { return strings.Compare(a.path, b.path) })
	}
	return d
}

// sources are the files of one certificate each.
func (e *dirEngine) sources(o syncOptions) ([]source, error) {
	v, err := loadVdir(e.s.root, e.s.layout.LocalDir)
	if err != nil {
		return nil, err
	}
	return e.scan(v, o).srcs, nil
}

func hasKey(blocks []pemfile.Block) bool {
	for _, b := range blocks {
		if b.Kind == pemfile.KindKey {
			return true
		}
	}
	return false
}

func (e *dirEngine) sync(o syncOptions) (changes, error) {
	s, l := e.s, e.s.layout
	v, err := loadVdir(s.root, l.LocalDir)
	if err != nil {
		return changes{}, err
	}
	for p := range o.exclude {
		v.remove(path.Base(p))
	}
	d := e.scan(v, o)
	var ch changes
	have := fingerprints(d.srcs)
	for _, b := range d.bundles {
		sp := Split{Bundle: b.path}
		for _, c := range b.certs {
			name := stableName(c) + l.LocalExt
			if have[fingerprint(c.Raw)] {
				continue
			}
			if _, taken := v.next[name]; taken {
				s.log.Warn("cannot split a certificate out of a bundle: its file name is taken", "path", b.path, "name", name)
				continue
			}
			data := pemfile.EncodeCerts(c)
			v.setFile(name, data)
			p := path.Join(l.LocalDir, name)
			d.srcs = append(d.srcs, source{path: p, data: data, certs: []*x509.Certificate{c}, local: true})
			have[fingerprint(c.Raw)] = true
			sp.Certs = append(sp.Certs, newCert(c, p, true, s.now()))
		}
		if o.inputs[b.path] {
			// A file the user just named stays under its name (run --trust
			// watches it); rehash skips it, with a warning.
			s.log.Warn("split a bundle given to install; it stays where it is, and rehash skips it", "path", b.path, "split", len(sp.Certs))
			ch.split = append(ch.split, sp)
			continue
		}
		base := path.Base(b.path)
		kept := keptName(v, base, b.data)
		if ent := v.next[base]; ent.isLink() {
			v.setLink(kept, ent.link)
		} else {
			v.setFile(kept, b.data)
		}
		v.remove(base)
		sp.KeptAs = path.Join(l.LocalDir, kept)
		s.log.Info("split a bundle into one file per certificate", "path", b.path, "kept_as", sp.KeptAs, "split", len(sp.Certs))
		ch.split = append(ch.split, sp)
	}
	if d.legacy != nil {
		v.remove(legacyBundleName)
		ch.migrated = d.legacy.path
		s.log.Info("removed the bundle an older certinit kept where rehash reads it", "path", d.legacy.path, "bundle", l.Bundle)
	}
	slices.SortFunc(d.srcs, func(a, b source) int { return strings.Compare(a.path, b.path) })
	v.removeDangling()
	applied, err := s.applyThenBundle(v, planHashLinks(v, s.log), concatSources(d.srcs, true))
	ch.created, ch.removed = applied.created, applied.removed
	return ch, err
}

// keptName is the name a split bundle moves to: NAME.split, or
// NAME.N.split when that holds something else.
func keptName(v *vdir, base string, data []byte) string {
	for i := 0; ; i++ {
		name := base + splitSuffix
		if i > 0 {
			name = base + "." + strconv.Itoa(i) + splitSuffix
		}
		if _, taken := v.next[name]; !taken {
			return name
		}
		if old, err := v.readEntry(name); err == nil && string(old) == string(data) {
			return name
		}
	}
}

// fingerprints are the SHA-256 fingerprints of the sources' certificates.
func fingerprints(srcs []source) map[string]bool {
	out := map[string]bool{}
	for _, src := range srcs {
		for _, c := range src.certs {
			out[fingerprint(c.Raw)] = true
		}
	}
	return out
}
