package verify

import (
	"crypto/x509"
	"fmt"
	"os"
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
	file   []*cert               // a cafile's (and NewTrust's), in load order
	dir    []*cert               // a capath's, by hash, then HASH.0, HASH.1, ...
	capath []hashlink.LookupFile // what the capath lookup opened, as read
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
// every certificate of the cafile, read as OpenSSL reads it
// (hashlink.ParseInfos: PEM only, and a file with a block OpenSSL cannot
// read is not loaded at all); from the capath what OpenSSL's lookup finds
// there (hashlink.LookupDir). Errors name the file. To tell which of the
// two a problem is in, load them one at a time and Join them.
func LoadTrust(cafile, capath string) (*Trust, error) {
	t := &Trust{}
	if cafile != "" {
		certs, err := readCAFile(cafile)
		if err != nil {
			return nil, err
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

// Join is the trust of a cafile and a capath loaded together, as
// LoadTrust(cafile, capath) returns it, from LoadTrust(cafile, "") and
// LoadTrust("", capath) (either may be nil), without reading them again.
func Join(cafile, capath *Trust) *Trust {
	t := &Trust{}
	if cafile != nil {
		t.file = cafile.file
	}
	if capath != nil {
		t.dir, t.capath = capath.dir, capath.capath
	}
	return t
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

// loadDir loads what OpenSSL's capath lookup finds in dir, over time,
// for every hash there (hashlink.LookupDir). A certificate crypto/x509
// cannot parse is passed over: OpenSSL loads it, but nothing here could
// check a signature with it.
func (t *Trust) loadDir(dir string) error {
	files, err := hashlink.LookupDir(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.CRL {
			continue
		}
		for _, o := range f.Found() {
			c, err := x509.ParseCertificate(o.DER)
			if err != nil {
				continue
			}
			if x, err := newCert(c); err == nil {
				t.dir = append(t.dir, x)
			}
		}
	}
	t.capath = append(t.capath, files...)
	return nil
}

// readCAFile reads the certificates of a cafile as OpenSSL loads it
// (X509_load_cert_crl_file: hashlink.ParseInfos), through the guarded
// reader. A file that gives OpenSSL no certificate is an error: a DER one
// included, which OpenSSL does not read as a cafile.
func readCAFile(path string) ([]*x509.Certificate, error) {
	data, err := pemfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	infos, err := hashlink.ParseInfos(data)
	if f := pemfile.Container(data); f != nil && (err != nil || !hasCert(infos)) {
		return nil, fmt.Errorf("%s: %w", path, f) // a .p7b or .p12: say how to convert it
	}
	if err != nil {
		return nil, fmt.Errorf("%s: OpenSSL loads nothing from it: %w", path, err)
	}
	var out []*x509.Certificate
	for _, in := range infos {
		if in.Cert == nil {
			continue
		}
		c, err := x509.ParseCertificate(in.Cert.DER)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		if _, err := hashlink.ParseCertificate(data); err == nil {
			return nil, fmt.Errorf("%s: DER, not PEM: OpenSSL reads trusted certificates as PEM only", path)
		}
		return nil, fmt.Errorf("%s: no certificate in the file", path)
	}
	return out, nil
}

// CapathFiles returns what the capath lookup opened, as LoadTrust read it
// (hashlink.LookupDir), for a diagnosis of the directory that reads no
// file again.
func (t *Trust) CapathFiles() []hashlink.LookupFile {
	return t.capath
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

// hasCert reports whether infos hold a certificate.
func hasCert(infos []hashlink.Info) bool {
	return slices.ContainsFunc(infos, func(in hashlink.Info) bool { return in.Cert != nil })
}
