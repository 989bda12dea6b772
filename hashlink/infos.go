package hashlink

import (
	"fmt"
	"strings"
)

// This file holds OpenSSL's two ways of reading the certificates and CRLs
// of a PEM file, which differ where a file holds something unexpected:
//
//   - ParseInfos is PEM_X509_INFO_read_bio (crypto/pem/pem_info.c), with
//     which `openssl rehash` reads a candidate file (Classify) and
//     SSL_CTX_load_verify_locations reads a cafile
//     (X509_load_cert_crl_file, crypto/x509/by_file.c): the whole file or
//     nothing. One bad block drops every certificate in it.
//   - loadObjects is X509_load_cert_file and X509_load_crl_file (also
//     by_file.c), with which the capath lookup reads a HASH.N or HASH.rN
//     file (Lookup): one kind of block, in order, up to the first one it
//     cannot read. What it read before that stays in OpenSSL's store.

// Info is one X509_INFO: what PEM_X509_INFO_read_bio groups together, at
// most one certificate, one CRL and one private key. A block of a kind the
// current info already has starts the next info.
type Info struct {
	Cert *Object // nil when the info has none
	CRL  *Object // nil when the info has none
	Key  bool    // the info has a private key (OpenSSL keeps it; certinit only counts it)
}

func (i *Info) empty() bool { return i.Cert == nil && i.CRL == nil && !i.Key }

// ParseInfos reads data as PEM_X509_INFO_read_bio does: every certificate
// (CERTIFICATE, X509 CERTIFICATE, TRUSTED CERTIFICATE), CRL (X509 CRL) and
// private key block, grouped into infos; other blocks are ignored. Data
// without a PEM block gives no info and no error (DER is not read). A
// certificate or CRL block with PEM headers or that does not decode, or a
// corrupt PEM block of any kind, is an error: OpenSSL then loads nothing
// from the file.
func ParseInfos(data []byte) ([]Info, error) {
	return readInfos(data, 0)
}

// readInfos is ParseInfos stopping once max infos are complete and another
// starts (max 0: no limit). Classify needs to know only whether a file
// holds more than one.
func readInfos(data []byte, max int) ([]Info, error) {
	var infos []Info
	var cur Info
	next := func() bool {
		infos = append(infos, cur)
		cur = Info{}
		return max > 0 && len(infos) >= max
	}
	for rest := data; ; {
		typ, headers, der, r, ok, err := nextPEM(rest)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		rest = r
		kind, known := pemTypes[typ]
		switch {
		case known:
			if (kind == Certificate && cur.Cert != nil) || (kind == CRL && cur.CRL != nil) {
				if next() {
					return infos, nil
				}
			}
			obj, err := readBlock(typ, kind, headers, der)
			if err != nil {
				return nil, err
			}
			if kind == Certificate {
				cur.Cert = obj
			} else {
				cur.CRL = obj
			}
		case strings.Contains(typ, "PRIVATE KEY"):
			if cur.Key && next() {
				return infos, nil
			}
			cur.Key = true
		}
	}
	if !cur.empty() {
		infos = append(infos, cur)
	}
	return infos, nil
}

// loadObjects reads the objects of one kind from a PEM file as
// X509_load_cert_file (certificates: PEM_read_bio_X509_AUX) or
// X509_load_crl_file (CRLs: PEM_read_bio_X509_CRL) does: every block of
// that kind in order, other blocks skipped (but each must be well-formed
// PEM). It returns what it read up to the first block it cannot read, and
// an error for that block, or for a file with none of that kind.
func loadObjects(data []byte, want Kind) ([]*Object, error) {
	var objs []*Object
	for rest := data; ; {
		typ, headers, der, r, ok, err := nextPEM(rest)
		if err != nil {
			return objs, err
		}
		if !ok {
			break
		}
		rest = r
		if kind, known := pemTypes[typ]; known && kind == want {
			obj, err := readBlock(typ, kind, headers, der)
			if err != nil {
				return objs, err
			}
			objs = append(objs, obj)
		}
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no PEM %s in it", want)
	}
	return objs, nil
}

// readBlock parses a certificate or CRL block. OpenSSL refuses PEM headers
// on them (PEM_get_EVP_CIPHER_INFO): they mean encryption, or nothing it
// knows.
func readBlock(typ string, kind Kind, headers bool, der []byte) (*Object, error) {
	if headers {
		return nil, fmt.Errorf("%s block has PEM headers (encrypted?)", typ)
	}
	if kind == Certificate {
		return ParseCertificate(der)
	}
	return ParseCRL(der)
}
