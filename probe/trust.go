package probe

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
	"github.com/certinit/certinit/verify"
)

// trust is what a chain is verified against: --cafile and --capath
// together, as SSL_CTX_load_verify_locations loads them for a Mosquitto
// client, or the system store when neither is given (OpenSSL's default
// paths, as mosquitto_pub uses them). Package verify reads them and decides.
type trust struct {
	cafile      string
	cafileCerts []*x509.Certificate // for the diagnosis: what the cafile holds
	capath      string
	v           *verify.Trust
	system      bool
	systemErr   error // why the system store could not be loaded (it is then empty)
}

// loadTrust reads --cafile and --capath as OpenSSL does. sys, when not nil,
// stands in for the system store (tests); otherwise verify.DefaultTrust is
// used.
func loadTrust(cafile, capath string, sys *verify.Trust) (*trust, error) {
	t := &trust{cafile: cafile, capath: capath}
	var ft, pt *verify.Trust
	if cafile != "" {
		var err error
		if ft, err = verify.LoadTrust(cafile, ""); err != nil {
			return nil, fmt.Errorf("--cafile %w", err)
		}
		t.cafileCerts = ft.Certificates()
	}
	if capath != "" {
		fi, err := os.Stat(capath)
		if err != nil {
			return nil, fmt.Errorf("--capath %w", userfile.PathError(capath, err))
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--capath %s: not a directory", capath)
		}
		if pt, err = verify.LoadTrust("", capath); err != nil {
			return nil, fmt.Errorf("--capath %w", err)
		}
	}
	if ft != nil || pt != nil {
		t.v = verify.Join(ft, pt)
	}
	if cafile == "" && capath == "" {
		t.system = true
		t.v, t.systemErr = systemTrust(sys)
		if t.systemErr == nil && len(t.v.Certificates()) == 0 {
			t.systemErr = fmt.Errorf("no certificates in %s or %s, nor in SSL_CERT_FILE or SSL_CERT_DIR", verify.DefaultCAFile, verify.DefaultCAPath)
		}
		if t.systemErr != nil {
			// A slim image without CA certificates: everything is unknown,
			// which the diagnosis explains.
			t.v = &verify.Trust{}
		}
	}
	return t, nil
}

func systemTrust(sys *verify.Trust) (*verify.Trust, error) {
	if sys != nil {
		return sys, nil
	}
	return verify.DefaultTrust()
}

// describe says what the trust is, for the report.
func (t *trust) describe() string {
	switch {
	case t.system && t.systemErr != nil:
		return "the system trust store, which is empty here"
	case t.system:
		return "the system trust store"
	case t.cafile != "" && t.capath != "":
		return fmt.Sprintf("--cafile %s and --capath %s", t.cafile, t.capath)
	case t.cafile != "":
		return "--cafile " + t.cafile
	default:
		return "--capath " + t.capath
	}
}

// where says which part of the trust holds c, a certificate of it.
func (t *trust) where(c *x509.Certificate) string {
	switch {
	case t.system:
		return "the system trust store"
	case containsCert(t.cafileCerts, c) || t.capath == "":
		return "--cafile " + t.cafile
	}
	return "--capath " + t.capath
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// capathFile is a certificate found by scanning --capath directly (not via
// hash links), for the diagnosis of a failed lookup.
type capathFile struct {
	path   string
	cert   *x509.Certificate
	count  int // certificates in the file: rehash links only files of one
	pem    bool
	linked bool // the capath lookup for its (new) hash opens this file (hashlink.Lookup)
	oldLnk bool // a lookup by its old (MD5) hash would open it
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
	var lookup, lookupOld []hashlink.LookupFile
	if h, err := hashlink.NameHash(name); err == nil {
		lookup = hashlink.Lookup(t.capath, h, false)
	}
	if h, err := hashlink.NameHashOld(name); err == nil {
		lookupOld = hashlink.Lookup(t.capath, h, false)
	}
	var out []capathFile
	for _, e := range ents {
		p := filepath.Join(t.capath, e.Name())
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
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
			if bytes.Equal(c.RawSubject, name) {
				out = append(out, capathFile{path: p, cert: c, count: len(certs), pem: bytes.Contains(data, []byte("-----BEGIN ")),
					linked: hashlink.Reaches(lookup, fi), oldLnk: hashlink.Reaches(lookupOld, fi)})
			}
		}
	}
	return out
}
