package truststore

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"net/url"
	"path"
	"strings"

	"github.com/certinit/certinit/internal/pemfile"
)

// p11Engine does what `trust extract --filter=ca-anchors
// --purpose=server-auth` does for update-ca-trust (Fedora, RHEL, Arch) and
// SUSE's update-ca-certificates: it gathers the anchors of every trust path
// (PEM or DER files in anchors/, trusted objects of .p11-kit files), takes
// out the distrusted ones (blocklist/, blacklist/, x-distrusted objects) and
// those whose attached extended key usage excludes TLS servers, and writes
// the bundle and a hash directory with one file per anchor.
//
// It does not write Java keystores, the email or code-signing bundles, or
// OpenSSL's TRUSTED CERTIFICATE bundle; the distribution's tool does that
// when it next runs, from the same anchors.
type p11Engine struct{ s *Store }

var (
	oidEKU        = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidServerAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidAnyEKU     = asn1.ObjectIdentifier{2, 5, 29, 37, 0}
)

// p11Sources is what the trust paths hold.
type p11Sources struct {
	anchors    []source
	distrusted map[string]bool                    // fingerprints
	eku        map[string][]asn1.ObjectIdentifier // stapled EKU by SPKI
	any        bool                               // some system trust path exists
}

func (e *p11Engine) gather(o syncOptions) *p11Sources {
	s, l := e.s, e.s.layout
	ps := &p11Sources{distrusted: map[string]bool{}, eku: map[string][]asn1.ObjectIdentifier{}}
	for i, tp := range l.TrustPaths {
		if i > 0 && s.root.exists(tp) {
			ps.any = true
		}
		for _, f := range e.files(tp + "/anchors") {
			if o.exclude[f] {
				continue
			}
			data, err := s.root.readFile(f)
			if err != nil {
				continue
			}
			certs := e.parseAny(f, data, ps)
			if len(certs) > 0 {
				ps.anchors = append(ps.anchors, source{path: f, data: data, certs: certs, local: i == 0})
			}
		}
		for _, sub := range []string{"/blocklist", "/blacklist"} {
			for _, f := range e.files(tp + sub) {
				if data, err := s.root.readFile(f); err == nil {
					for _, c := range e.parseAny(f, data, ps) {
						ps.distrusted[fingerprint(c.Raw)] = true
					}
				}
			}
		}
		for _, f := range e.files(tp) {
			if data, err := s.root.readFile(f); err == nil && bytes.Contains(data, []byte("[p11-kit-object-v1]")) {
				if certs := e.parseP11Kit(data, ps); len(certs) > 0 {
					ps.anchors = append(ps.anchors, source{path: f, data: data, certs: certs, local: i == 0})
				}
			}
		}
	}
	return ps
}

// files lists the non-hidden regular files of an in-root directory.
func (e *p11Engine) files(dir string) []string { return e.s.root.plainFiles(dir) }

// parseAny reads a PEM, DER or p11-kit file of certificates.
func (e *p11Engine) parseAny(p string, data []byte, ps *p11Sources) []*x509.Certificate {
	if bytes.Contains(data, []byte("[p11-kit-object-v1]")) {
		return e.parseP11Kit(data, ps)
	}
	certs, err := parseCerts(data)
	if err != nil {
		e.s.log.Warn("skipping trust source that does not parse", "path", p, "err", err)
	}
	return certs
}

// parseP11Kit reads p11-kit's persist format: [p11-kit-object-v1] sections
// of "key: value" lines and one PEM block. It returns the trusted
// certificates and records distrusted ones and stapled EKU extensions.
func (e *p11Engine) parseP11Kit(data []byte, ps *p11Sources) []*x509.Certificate {
	var out []*x509.Certificate
	for _, obj := range bytes.Split(data, []byte("[p11-kit-object-v1]"))[1:] {
		fields := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(obj))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "-----BEGIN") {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
		block, _ := pem.Decode(obj)
		if block == nil {
			continue
		}
		switch fields["class"] {
		case "certificate":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				continue
			}
			switch {
			case fields["x-distrusted"] == "true":
				ps.distrusted[fingerprint(c.Raw)] = true
			case fields["trusted"] == "true":
				out = append(out, c)
			}
		case "x-certificate-extension":
			if fields["object-id"] != oidEKU.String() || block.Type != "PUBLIC KEY" {
				continue
			}
			raw, err := url.PathUnescape(fields["value"])
			if err != nil {
				continue
			}
			ps.eku[string(block.Bytes)] = parseEKU([]byte(raw))
		}
	}
	return out
}

// parseEKU accepts a whole Extension or just its ExtKeyUsageSyntax.
func parseEKU(der []byte) []asn1.ObjectIdentifier {
	var ext pkix.Extension
	if _, err := asn1.Unmarshal(der, &ext); err == nil && ext.Id.Equal(oidEKU) {
		der = ext.Value
	}
	var oids []asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(der, &oids); err != nil {
		return nil
	}
	return oids
}

// serverAuth: the stapled EKU if any, else the certificate's own, must
// allow TLS servers.
func (ps *p11Sources) serverAuth(c *x509.Certificate) bool {
	ekus, ok := ps.eku[string(c.RawSubjectPublicKeyInfo)]
	if !ok {
		ekus, ok = c.UnknownExtKeyUsage, len(c.ExtKeyUsage)+len(c.UnknownExtKeyUsage) > 0
		for _, u := range c.ExtKeyUsage {
			if u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny {
				return true
			}
		}
	}
	if !ok {
		return true
	}
	for _, o := range ekus {
		if o.Equal(oidServerAuth) || o.Equal(oidAnyEKU) {
			return true
		}
	}
	return false
}

// sources returns the anchors for TLS servers, each certificate once. A
// tree with no system trust path but an extracted bundle keeps that
// bundle's certificates (see debianEngine.keptBundle).
func (e *p11Engine) sources(o syncOptions) ([]source, error) {
	ps := e.gather(o)
	seen := map[string]bool{}
	var out []source
	for _, src := range ps.anchors {
		var keep []*x509.Certificate
		for _, c := range src.certs {
			fp := fingerprint(c.Raw)
			if seen[fp] || ps.distrusted[fp] || !ps.serverAuth(c) {
				continue
			}
			seen[fp] = true
			keep = append(keep, c)
		}
		if len(keep) > 0 {
			src.certs = keep
			out = append(out, src)
		}
	}
	l := e.s.layout
	if !ps.any && e.s.root.isFile(l.Bundle) {
		data, err := e.s.root.readFile(l.Bundle)
		if err == nil {
			certs, _ := parseCerts(data)
			base := source{path: l.Bundle}
			for _, c := range certs {
				fp := fingerprint(c.Raw)
				if !seen[fp] && !o.dropFPs[fp] {
					base.certs = append(base.certs, c)
				}
			}
			if len(base.certs) > 0 {
				out = append([]source{base}, out...)
			}
		}
	}
	return out, nil
}

func (e *p11Engine) sync(o syncOptions) (changes, error) {
	s, l := e.s, e.s.layout
	srcs, err := e.sources(o)
	if err != nil {
		return changes{}, err
	}
	var all []*x509.Certificate
	for _, src := range srcs {
		all = append(all, src.certs...)
	}
	// The hash directory is wholly the extractor's: one file per anchor.
	v, err := loadVdir(s.root, l.HashDir)
	if err != nil {
		return changes{}, err
	}
	for _, n := range v.names() {
		if !v.next[n].isDir {
			v.remove(n)
		}
	}
	for _, c := range all {
		v.setFile(stableName(c)+".pem", pemfile.EncodeCerts(c))
	}
	hashErr := planHashLinks(v, s.log)
	ch, err := v.apply()
	if err != nil {
		return ch, err
	}
	if l.MirrorDir != "" {
		mc, err := e.mirror(v)
		ch.created = append(ch.created, mc.created...)
		ch.removed = append(ch.removed, mc.removed...)
		if err != nil {
			return ch, err
		}
	}
	if hashErr != nil {
		return ch, hashErr // the bundle stays as it was, as in applyThenBundle
	}
	if err := s.writeBundle(pemfile.EncodeCerts(all...)); err != nil {
		return ch, err
	}
	return ch, s.compatLinks()
}

// mirror links every entry of the hash directory into MirrorDir (Arch's
// /etc/ssl/certs) and drops links there that no longer lead anywhere.
func (e *p11Engine) mirror(hash *vdir) (changes, error) {
	s, l := e.s, e.s.layout
	m, err := loadVdir(s.root, l.MirrorDir)
	if err != nil {
		return changes{}, err
	}
	rel := relPath(l.MirrorDir, l.HashDir)
	for _, n := range hash.names() {
		if _, taken := m.next[n]; !taken || m.next[n].isLink() {
			m.setLink(n, rel+"/"+n)
		}
	}
	for _, n := range m.names() {
		if t := m.next[n].link; strings.HasPrefix(t, rel+"/") {
			if _, ok := hash.next[path.Base(t)]; !ok {
				m.remove(n)
			}
		}
	}
	return m.apply()
}

// relPath returns the relative path from directory from to directory to.
func relPath(from, to string) string {
	f := strings.Split(strings.Trim(from, "/"), "/")
	t := strings.Split(strings.Trim(to, "/"), "/")
	i := 0
	for i < len(f) && i < len(t) && f[i] == t[i] {
		i++
	}
	parts := []string{}
	for range f[i:] {
		parts = append(parts, "..")
	}
	return path.Join(append(parts, t[i:]...)...)
}
