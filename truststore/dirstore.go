package truststore

import (
	"path"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
)

// dirEngine manages a plain directory for a server's capath (Mosquitto's
// capath, OpenSSL's -CApath): one PEM file per certificate, OpenSSL hash
// links to them and a bundle file (for cafile), all in one directory.
// Every certificate file in it is a source, whoever put it there.
type dirEngine struct{ s *Store }

// sources: every regular file (or link to one) named *.pem, *.crt or *.cer
// that holds certificates and no key, in name order; the bundle and hash
// links are outputs, not sources.
func (e *dirEngine) sources(o syncOptions) ([]source, error) {
	s, l := e.s, e.s.layout
	v, err := loadVdir(s.root, l.LocalDir)
	if err != nil {
		return nil, err
	}
	var out []source
	for _, n := range v.names() {
		p := path.Join(l.LocalDir, n)
		ent := v.next[n]
		if n == dirBundleName || ent.isDir || isHashName(n) || o.exclude[p] || !hashlink.IsCandidate(n) || path.Ext(n) == ".crl" {
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
		out = append(out, source{path: p, data: data, certs: certs, local: true})
	}
	return out, nil
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
	srcs, err := e.sources(o)
	if err != nil {
		return changes{}, err
	}
	v, err := loadVdir(s.root, l.LocalDir)
	if err != nil {
		return changes{}, err
	}
	for p := range o.exclude {
		v.remove(path.Base(p))
	}
	v.removeDangling()
	// The bundle is an output, not a certificate file: while it holds a
	// single certificate it would look like one to openssl rehash and get
	// a second hash link (HASH.1 -> ca-certificates.crt) that turns stale
	// as soon as a second certificate arrives. A capath directory needs
	// links to the per-certificate files only, so the bundle is never a
	// candidate, and a hash link to it (left by an older certinit or by
	// running openssl rehash by hand) is dropped.
	for _, n := range v.names() {
		if e := v.next[n]; e.isLink() && e.link == dirBundleName && isHashName(n) {
			v.remove(n)
		}
	}
	return s.applyThenBundle(v, planHashLinks(v, dirBundleName, s.log), concatSources(srcs, true))
}
