package hashlink

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/certinit/certinit/internal/pemfile"
)

// MaxFileSize bounds how much of one file is read (internal/pemfile reads
// for this package too): large enough for any CRL or bundle in use, small
// enough that a mistaken multi-gigabyte file cannot exhaust memory.
const MaxFileSize = pemfile.MaxFileSize

// ParseObjects returns the certificates and CRLs in data: every CERTIFICATE,
// TRUSTED CERTIFICATE and X509 CRL block of PEM input, or, for input without
// a PEM block, the single DER certificate or CRL it holds. Other PEM blocks
// (keys, requests) are ignored.
func ParseObjects(data []byte) ([]*Object, error) {
	if !bytes.Contains(data, beginMarker) {
		if len(data) == 0 {
			return nil, errors.New("empty file")
		}
		obj, err := ParseCertificate(data)
		if err == nil {
			return []*Object{obj}, nil
		}
		if crl, err2 := ParseCRL(data); err2 == nil {
			return []*Object{crl}, nil
		}
		if f := pemfile.Container(data); f != nil {
			return nil, f
		}
		return nil, fmt.Errorf("%w: not PEM and not DER (%w)", ErrNotCertificate, err)
	}
	var objs []*Object
	rest := data
	for {
		typ, headers, der, r, ok, err := nextPEM(rest)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		rest = r
		kind, known := pemTypes[typ]
		if !known {
			continue
		}
		obj, err := readBlock(typ, kind, headers, der)
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// HashFile reads a file holding exactly one certificate or CRL (PEM or DER;
// other PEM blocks such as a key are ignored) and returns it with its
// hashes. The error names the file.
func HashFile(path string) (*Object, error) {
	data, err := pemfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := ParseObjects(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch len(objs) {
	case 1:
		return objs[0], nil
	case 0:
		if f := pemfile.Container(data); f != nil {
			return nil, fmt.Errorf("%s: %w", path, f)
		}
		return nil, fmt.Errorf("%s: no certificate or CRL in file", path)
	default:
		return nil, fmt.Errorf("%s: holds %d certificates or CRLs; hash needs exactly one", path, len(objs))
	}
}
