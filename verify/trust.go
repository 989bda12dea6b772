package verify

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
)

// Trust is a trust set as OpenSSL's certificate store holds it: the
// certificates of a cafile in file order, and those of a capath in the
// order its lookup loads them.
type Trust struct {
	file []*cert // a cafile's (and NewTrust's), in load order
	dir  []*cert // a capath's, by hash, then HASH.0, HASH.1, ...
}

// NewTrust returns a trust set of certs, as a cafile holding them in this
// order would be.
func NewTrust(certs ...*x509.Certificate) (*Trust, error) {
	xs, err := newCerts(certs)
	if err != nil {
		return nil, err
	}
	return &Trust{file: xs}, nil
}

func newCerts(certs []*x509.Certificate) ([]*cert, error) {
	out := make([]*cert, 0, len(certs))
	for _, c := range certs {
		x, err := newCert(c)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// LoadTrust reads a cafile and a capath (either may be "") as
// SSL_CTX_load_verify_locations does for Mosquitto's cafile and capath:
// every certificate of the cafile, which must be PEM; from the capath the
// PEM files the lookup opens, HASH.0, HASH.1, ... up to the first name
// missing or a file without a certificate. Errors name the file.
func LoadTrust(cafile, capath string) (*Trust, error) {
	t := &Trust{}
	if cafile != "" {
		certs, err := readPEMCerts(cafile)
		if err != nil {
			return nil, err
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("%s: no certificate in the file", cafile)
		}
		if t.file, err = newCerts(certs); err != nil {
			return nil, fmt.Errorf("%s: %w", cafile, err)
		}
	}
	if capath != "" {
		if err := t.loadDir(capath); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// OpenSSL's default verify locations on Debian (OPENSSLDIR is
// /usr/lib/ssl, whose cert.pem and certs lead to /etc/ssl/certs).
const (
	DefaultCAFile = "/usr/lib/ssl/cert.pem"
	DefaultCAPath = "/usr/lib/ssl/certs"
)

// DefaultTrust is the trust of a Mosquitto client or bridge given neither
// a cafile nor a capath (SSL_CTX_set_default_verify_paths): the file
// SSL_CERT_FILE names, else DefaultCAFile, and the directories SSL_CERT_DIR
// names (separated by ':'), else DefaultCAPath. Like OpenSSL it passes over
// locations that are not there.
func DefaultTrust() (*Trust, error) {
	file, dirs := DefaultCAFile, []string{DefaultCAPath}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		file = f
	}
	if d := os.Getenv("SSL_CERT_DIR"); d != "" {
		dirs = strings.Split(d, ":")
	}
	t := &Trust{}
	if _, err := os.Stat(file); err == nil {
		ft, err := LoadTrust(file, "")
		if err != nil {
			return nil, err
		}
		t.file = ft.file
	}
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		if err := t.loadDir(d); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// loadDir loads a capath as OpenSSL's by_dir lookup would, over time,
// for every hash there.
func (t *Trust) loadDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	var hashes []uint32
	for _, e := range ents {
		n, ok := hashlink.ParseLinkName(e.Name())
		if !ok || n.CRL || !hashlink.IsLookupName(e.Name()) {
			continue
		}
		names[e.Name()] = true
		if !slices.Contains(hashes, n.Hash) {
			hashes = append(hashes, n.Hash)
		}
	}
	slices.Sort(hashes)
	for _, h := range hashes {
		for id := 0; ; id++ {
			name := hashlink.LinkName{Hash: h, ID: uint16(id)}.String()
			if !names[name] {
				break
			}
			certs, err := readPEMCerts(filepath.Join(dir, name))
			if err != nil || len(certs) == 0 {
				break // the lookup stops at a file it cannot load
			}
			xs, err := newCerts(certs)
			if err != nil {
				break
			}
			// The lookup opens HASH.N for a name whose subject hash is
			// HASH: a certificate under another hash (an old-style MD5
			// link) is never asked for.
			t.dir = append(t.dir, slices.DeleteFunc(xs, func(x *cert) bool {
				got, err := hashlink.NameHash(x.RawSubject)
				return err != nil || got != h
			})...)
		}
	}
	return nil
}

// readPEMCerts reads the certificates of a PEM file through the guarded
// reader. OpenSSL reads cafile and capath files as PEM only.
func readPEMCerts(path string) ([]*x509.Certificate, error) {
	data, err := pemfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blocks, err := pemfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []*x509.Certificate
	for i, b := range blocks {
		if b.Kind != pemfile.KindCert {
			continue
		}
		if b.Type == "DER" {
			return nil, fmt.Errorf("%s: DER, not PEM: OpenSSL reads trusted certificates as PEM only", path)
		}
		c, err := x509.ParseCertificate(b.CertDER())
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, i+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Certificates returns the trust set's certificates, cafile first.
func (t *Trust) Certificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, x := range slices.Concat(t.file, t.dir) {
		out = append(out, x.Certificate)
	}
	return out
}

// issuerOf is X509_STORE_CTX_get1_issuer: among the trusted certificates
// named as x's issuer (the cafile's, or when it has none of that name the
// capath's: the store asks its lookups only for names it does not hold)
// that likely issued x, the first valid at now, else the one that expires
// last.
func (t *Trust) issuerOf(x *cert, now time.Time, checkTime bool) *cert {
	candidates := named(t.file, x.issuer)
	if len(candidates) == 0 {
		candidates = named(t.dir, x.issuer)
	}
	return bestIssuer(candidates, x, now, checkTime, nil)
}

func named(certs []*cert, name string) []*cert {
	var out []*cert
	for _, c := range certs {
		if c.subject == name {
			out = append(out, c)
		}
	}
	return out
}

// bestIssuer is get0_best_issuer_sk: the first candidate that likely
// issued x and is valid at now; failing that the one that expires last
// (the first of equals). Candidates already in chain are skipped, except
// for a self-issued x alone in it.
func bestIssuer(candidates []*cert, x *cert, now time.Time, checkTime bool, chain []*cert) *cert {
	var best *cert
	for _, c := range candidates {
		if chain != nil && !(x.selfIssued && len(chain) == 1) && contains(chain, c) {
			continue
		}
		if !likelyIssued(c, x) {
			continue
		}
		if timeCode(c, now, checkTime) == 0 {
			return c
		}
		if best == nil || c.NotAfter.Unix() > best.NotAfter.Unix() {
			best = c
		}
	}
	return best
}

func contains(chain []*cert, c *cert) bool {
	return slices.ContainsFunc(chain, func(x *cert) bool { return x.Certificate.Equal(c.Certificate) })
}
