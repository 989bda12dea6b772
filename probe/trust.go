package probe

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io/fs"
	"math"
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
	if cafile != "" {
		ft, err := verify.LoadTrust(cafile, "")
		if err != nil {
			return nil, fmt.Errorf("--cafile %w", err)
		}
		t.cafileCerts, t.v = ft.Certificates(), ft
	}
	if capath != "" {
		fi, err := os.Stat(capath)
		if err != nil {
			return nil, fmt.Errorf("--capath %w", userfile.PathError(capath, err))
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--capath %s: not a directory", capath)
		}
		if t.v, err = verify.LoadTrust(cafile, capath); err != nil {
			return nil, fmt.Errorf("--capath %w", err)
		}
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
			f := capathFile{path: p, cert: c, count: len(certs), pem: bytes.Contains(data, []byte("-----BEGIN "))}
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
