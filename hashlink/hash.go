package hashlink

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// NameHash returns OpenSSL's X509_NAME_hash_ex of a DER-encoded Name: the first
// four bytes, little-endian, of the SHA-1 of the name's canonical encoding.
// This is what `openssl x509 -subject_hash` prints and what capath lookups
// use since OpenSSL 1.0.0. A Name OpenSSL cannot decode is an error.
func NameHash(nameDER []byte) (uint32, error) {
	name, err := readName(nameDER)
	if err != nil {
		return 0, err
	}
	return nameHash(name)
}

// NameHashOld returns OpenSSL's X509_NAME_hash_old: the first four bytes,
// little-endian, of the MD5 of the name's DER exactly as encoded (what
// `openssl x509 -subject_hash_old` prints, and OpenSSL 0.9.8 used). The name
// must still be one OpenSSL can decode.
func NameHashOld(nameDER []byte) (uint32, error) {
	name, err := readName(nameDER)
	if err != nil {
		return 0, err
	}
	if _, err := canonicalName(nil, name); err != nil {
		return 0, err
	}
	return nameHashOld(name), nil
}

// CanonicalName returns OpenSSL's canonical encoding of a DER-encoded Name
// (see canon.go): two names are the same name to OpenSSL (X509_NAME_cmp,
// which chain building and the capath lookup use) exactly when their
// canonical encodings are equal. A Name OpenSSL cannot decode is an error.
func CanonicalName(nameDER []byte) ([]byte, error) {
	name, err := readName(nameDER)
	if err != nil {
		return nil, err
	}
	return canonicalName(nil, name)
}

// SubjectHash returns the new-style hash of a DER certificate's subject.
func SubjectHash(certDER []byte) (uint32, error) {
	obj, err := ParseCertificate(certDER)
	if err != nil {
		return 0, err
	}
	return obj.Hash, nil
}

// IssuerHash returns the new-style hash of a DER CRL's issuer, as
// `openssl crl -hash` prints it.
func IssuerHash(crlDER []byte) (uint32, error) {
	obj, err := ParseCRL(crlDER)
	if err != nil {
		return 0, err
	}
	return obj.Hash, nil
}

// Kind says whether an Object is a certificate or a CRL.
type Kind int

// Kinds of Object.
const (
	Certificate Kind = iota
	CRL
)

func (k Kind) String() string {
	if k == CRL {
		return "CRL"
	}
	return "certificate"
}

// Object is a certificate or CRL with what hash links need.
type Object struct {
	Kind Kind
	// Name is the DER of the subject (certificate) or issuer (CRL).
	Name []byte
	// Hash and HashOld are the new (SHA-1 canonical) and old (MD5) hashes
	// of Name.
	Hash, HashOld uint32
	// Fingerprint is the SHA-1 of the object's DER, as X509_digest and
	// X509_CRL_digest compute it; rehash uses it to skip duplicates.
	Fingerprint [sha1.Size]byte
	// DER is the certificate or CRL itself, without the trust settings a
	// TRUSTED CERTIFICATE block adds after it.
	DER []byte
}

func readName(der []byte) (element, error) {
	s := cryptobyte.String(der)
	e, err := readElement(&s)
	if err != nil {
		return e, fmt.Errorf("name: %w", err)
	}
	if !s.Empty() {
		return e, errors.New("name: trailing data after the Name")
	}
	return e, nil
}

// nameHash canonicalises name and returns the SHA-1-based hash.
func nameHash(name element) (uint32, error) {
	canon, err := canonicalName(nil, name)
	if err != nil {
		return 0, err
	}
	sum := sha1.Sum(canon)
	return binary.LittleEndian.Uint32(sum[:4]), nil
}

func nameHashOld(name element) uint32 {
	sum := md5.Sum(name.raw)
	return binary.LittleEndian.Uint32(sum[:4])
}

// FormatHash formats a hash as OpenSSL prints it: 8 lower-case hex digits.
func FormatHash(h uint32) string {
	const hex = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = hex[h&0xf]
		h >>= 4
	}
	return string(b[:])
}
