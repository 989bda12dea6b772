package hashlink

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

// This file is OpenSSL's capath lookup (crypto/x509/by_dir.c,
// get_cert_by_subject_ex): what a TLS handshake finds in a hash directory.
// It is the one place that knows how far the lookup reads; verify, probe
// and runner ask it.
//
// Asked for the issuer of a certificate, the lookup hashes the issuer name
// and opens HASH.0, HASH.1, ... (HASH.r0, ... for CRLs), formatted as
// LinkName.String gives them, until a name does not exist (stat fails: a
// gap in the numbering or a dangling link ends it) or a file does not load
// (loadObjects: PEM only, so a DER file ends it too). What a file it opens
// holds for another hash, such as a certificate behind an old-style (MD5)
// link, is not what the lookup was asked for.

// LookupFile is one file the capath lookup opens, and what it read there.
type LookupFile struct {
	LinkName             // the name opened
	Info     fs.FileInfo // the file the name leads to (os.Stat)
	Objects  []*Object   // the certificates (CRLs for HASH.rN) it read, in file order
	Err      error       // why the lookup stops at this file; nil when it goes on to the next number
}

// Found returns what the lookup finds in f: its objects whose subject
// (issuer, for a CRL) has the hash in f's name.
func (f LookupFile) Found() []*Object {
	var out []*Object
	for _, o := range f.Objects {
		if o.Hash == f.Hash {
			out = append(out, o)
		}
	}
	return out
}

// Lookup returns the files OpenSSL's capath lookup opens in dir for a
// certificate (a CRL when crl is true) whose subject (issuer) name has the
// hash hash, in the order it opens them. The last file has Err set when
// the lookup stops because it cannot load it; the objects it read from
// that file before the block it could not read are still found, because
// OpenSSL has already put them in its store. A name that does not exist
// ends the list without an entry.
//
// A file that is not a regular file of sane size ends the lookup (with
// Err) unread, where OpenSSL would block on a FIFO or read without end.
func Lookup(dir string, hash uint32, crl bool) []LookupFile {
	kind := Certificate
	if crl {
		kind = CRL
	}
	var files []LookupFile
	for id := 0; id <= math.MaxUint16; id++ {
		n := LinkName{Hash: hash, CRL: crl, ID: uint16(id)}
		path := filepath.Join(dir, n.String())
		fi, err := os.Stat(path)
		if err != nil {
			break
		}
		f := LookupFile{LinkName: n, Info: fi}
		f.Objects, f.Err = loadFile(path, kind)
		files = append(files, f)
		if f.Err != nil {
			break
		}
	}
	return files
}

// loadFile reads the objects of one kind from a file as the lookup does.
// Errors name the file.
func loadFile(path string, kind Kind) ([]*Object, error) {
	data, err := pemfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := loadObjects(data, kind)
	if err == nil {
		return objs, nil
	}
	if len(objs) == 0 && !bytes.Contains(data, beginMarker) && isDER(data) {
		return nil, fmt.Errorf("%s: DER, and %w", path, ErrPEMOnly)
	}
	return objs, fmt.Errorf("%s: OpenSSL's capath lookup cannot load it: %w", path, err)
}

// isDER reports whether data is a DER certificate or CRL.
func isDER(data []byte) bool {
	if _, err := ParseCertificate(data); err == nil {
		return true
	}
	_, err := ParseCRL(data)
	return err == nil
}

// LookupDir returns every file the capath lookup can open in dir: Lookup
// for each hash that has a HASH.0 (certificates) or HASH.r0 (CRLs), in
// name order. The error is for a directory that cannot be listed.
func LookupDir(dir string) ([]LookupFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, userfile.PathError(dir, err)
	}
	var files []LookupFile
	for _, e := range ents {
		n, ok := ParseLinkName(e.Name())
		if ok && n.ID == 0 && n.String() == e.Name() {
			files = append(files, Lookup(dir, n.Hash, n.CRL)...)
		}
	}
	return files, nil
}

// Reaches reports whether the lookup opens fi among files (os.SameFile):
// whether a name it opens leads to that file.
func Reaches(files []LookupFile, fi fs.FileInfo) bool {
	return slices.ContainsFunc(files, func(f LookupFile) bool { return os.SameFile(f.Info, fi) })
}
