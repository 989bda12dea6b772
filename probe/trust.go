package probe

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

// maxLookups bounds capath lookups for one chain (each lookup may add the
// issuer of what it found); real chains need two or three.
const maxLookups = 16

// trust is what a chain is verified against: --cafile and --capath
// together, or the system store when neither is given (as OpenSSL clients
// such as mosquitto_pub do).
type trust struct {
	cafile      string
	cafileCerts []*x509.Certificate
	capath      string
	system      *x509.CertPool // nil unless the system store is the trust
	systemErr   error          // why the system store could not be loaded (it is then empty)
}

// loadTrust reads --cafile and checks --capath. sys, when not nil, stands in
// for the system store (tests); otherwise x509.SystemCertPool is used.
func loadTrust(cafile, capath string, sys *x509.CertPool) (*trust, error) {
	t := &trust{cafile: cafile, capath: capath}
	if cafile != "" {
		certs, err := pemfile.ReadCertificates(cafile)
		if err != nil {
			return nil, fmt.Errorf("--cafile %w", err)
		}
		t.cafileCerts = certs
	}
	if capath != "" {
		fi, err := os.Stat(capath)
		if err != nil {
			return nil, fmt.Errorf("--capath %w", userfile.PathError(capath, err))
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--capath %s: not a directory", capath)
		}
	}
	if cafile == "" && capath == "" {
		t.system, t.systemErr = systemPool(sys)
		if t.systemErr == nil && sys == nil && runtime.GOOS == "linux" && len(t.system.Subjects()) == 0 { //nolint:staticcheck // on Linux the system pool holds the certificates it read
			t.systemErr = errors.New("no certificates in /etc/ssl/certs or the other usual places, nor in SSL_CERT_FILE/SSL_CERT_DIR")
		}
		if t.systemErr != nil {
			// A slim image without CA certificates: everything is unknown,
			// which the diagnosis explains.
			t.system = x509.NewCertPool()
		}
	}
	return t, nil
}

func systemPool(sys *x509.CertPool) (*x509.CertPool, error) {
	if sys != nil {
		return sys, nil
	}
	return x509.SystemCertPool()
}

// describe says what the trust is, for the report.
func (t *trust) describe() string {
	switch {
	case t.system != nil && t.systemErr != nil:
		return "the system trust store, which is empty here"
	case t.system != nil:
		return "the system trust store"
	case t.cafile != "" && t.capath != "":
		return fmt.Sprintf("--cafile %s and --capath %s", t.cafile, t.capath)
	case t.cafile != "":
		return "--cafile " + t.cafile
	default:
		return "--capath " + t.capath
	}
}

// pools returns what chain is verified against: the trust anchors (the
// system store, or the self-signed certificates of the cafile and of what
// OpenSSL's capath lookup finds for the chain's issuers) and the trusted
// certificates that are not self-signed. OpenSSL, without the partial-chain
// flag that mosquitto does not set, uses the latter only to build the chain
// towards a self-signed anchor, so they are intermediates here, not roots.
func (t *trust) pools(chain []*x509.Certificate) (*x509.CertPool, []*x509.Certificate) {
	if t.system != nil {
		return t.system, nil
	}
	roots := x509.NewCertPool()
	var inter []*x509.Certificate
	for _, c := range t.storeCerts(chain) {
		if selfSigned(c) {
			roots.AddCert(c)
		} else {
			inter = append(inter, c)
		}
	}
	return roots, inter
}

// storeCerts is the cafile's certificates and what the capath lookup finds
// for chain.
func (t *trust) storeCerts(chain []*x509.Certificate) []*x509.Certificate {
	return append(t.cafileCerts[:len(t.cafileCerts):len(t.cafileCerts)], t.capathCerts(chain)...)
}

// capathCerts performs OpenSSL's hash-directory lookup (by_dir.c) for every
// issuer name reachable from chain: for name N it loads HASH.0, HASH.1, ...
// (HASH = the new subject hash of N) until a file is missing or holds no
// PEM certificate. Everything those files hold is returned.
func (t *trust) capathCerts(chain []*x509.Certificate) []*x509.Certificate {
	if t.capath == "" {
		return nil
	}
	var found []*x509.Certificate
	seen := map[string]bool{}
	queue := make([][]byte, 0, len(chain))
	for _, c := range chain {
		queue = append(queue, c.RawIssuer)
	}
	for lookups := 0; len(queue) > 0 && lookups < maxLookups; lookups++ {
		name := queue[0]
		queue = queue[1:]
		if seen[string(name)] {
			continue
		}
		seen[string(name)] = true
		for _, c := range t.lookup(name) {
			found = append(found, c)
			if !bytes.Equal(c.RawIssuer, c.RawSubject) {
				queue = append(queue, c.RawIssuer)
			}
		}
	}
	return found
}

// lookup loads the hash-link files for one name.
func (t *trust) lookup(name []byte) []*x509.Certificate {
	h, err := hashlink.NameHash(name)
	if err != nil {
		return nil
	}
	var out []*x509.Certificate
	for id := 0; id <= math.MaxUint16; id++ {
		p := filepath.Join(t.capath, hashlink.LinkName{Hash: h, ID: uint16(id)}.String())
		certs, err := readPEMCerts(p)
		if err != nil || len(certs) == 0 {
			break
		}
		out = append(out, certs...)
	}
	return out
}

// readPEMCerts reads the PEM certificates of a file; capath lookups read
// PEM only, as OpenSSL does.
func readPEMCerts(path string) ([]*x509.Certificate, error) {
	data, err := pemfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return nil, errors.New("not PEM")
	}
	return pemfile.Certificates(data)
}

// capathFile is a certificate found by scanning --capath directly (not via
// hash links), for the diagnosis of a failed lookup.
type capathFile struct {
	path   string
	cert   *x509.Certificate
	pem    bool
	linked bool // some HASH.N link with the new hash resolves to this file
	oldLnk bool // a link named after the old (MD5) hash resolves to it
}

// scanCapath finds the certificates in --capath whose subject is name,
// whether or not a hash link leads to them.
func (t *trust) scanCapath(name []byte) []capathFile {
	if t.capath == "" {
		return nil
	}
	ents, err := os.ReadDir(t.capath)
	if err != nil {
		return nil
	}
	var out []capathFile
	for _, e := range ents {
		p := filepath.Join(t.capath, e.Name())
		if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeSymlink != 0 || !fi.Mode().IsRegular() {
			continue
		}
		data, err := pemfile.ReadFile(p)
		if err != nil {
			continue
		}
		certs, err := pemfile.Certificates(data)
		if err != nil {
			continue
		}
		for _, c := range certs {
			if !bytes.Equal(c.RawSubject, name) {
				continue
			}
			f := capathFile{path: p, cert: c, pem: bytes.Contains(data, []byte("-----BEGIN "))}
			if h, err := hashlink.NameHash(name); err == nil {
				f.linked = linkTo(t.capath, h, e.Name())
			}
			if h, err := hashlink.NameHashOld(name); err == nil {
				f.oldLnk = linkTo(t.capath, h, e.Name())
			}
			out = append(out, f)
		}
	}
	return out
}

// linkTo reports whether one of dir/HASH.0, HASH.1, ... (up to the first
// missing one, as the lookup stops there) is target or resolves to it.
func linkTo(dir string, hash uint32, target string) bool {
	want, err := os.Stat(filepath.Join(dir, target))
	if err != nil {
		return false
	}
	for id := 0; id <= math.MaxUint16; id++ {
		fi, err := os.Stat(filepath.Join(dir, hashlink.LinkName{Hash: hash, ID: uint16(id)}.String()))
		if err != nil {
			return false
		}
		if os.SameFile(fi, want) {
			return true
		}
	}
	return false
}
