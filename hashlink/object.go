package hashlink

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// This file parses just enough of a certificate or CRL to hash it: the
// structure up to the name, the name itself, and the outer element for the
// fingerprint. It checks what OpenSSL's decoder would refuse in those parts
// (both names of a certificate are decoded and canonicalised by OpenSSL, so a
// bad issuer name makes the certificate unloadable too), and skips the rest
// (validity, key, extensions) after checking it is well-formed DER. It does
// not verify signatures: neither does OpenSSL when it hashes.

// ParseCertificate reads a DER certificate (trailing data after it is
// ignored, as d2i_X509 does) and returns its subject hashes and fingerprint.
func ParseCertificate(der []byte) (*Object, error) {
	outer, tbs, err := readSigned(der)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if peekIs(tbs, 2, 0, true) { // [0] EXPLICIT version
		if _, err := readElement(&tbs); err != nil {
			return nil, fmt.Errorf("certificate: version: %w", err)
		}
	}
	var issuer, subject element
	for _, f := range []struct {
		what string
		tag  uint32
		into *element
	}{
		{"serial number", tagInteger, nil},
		{"signature algorithm", tagSequence, nil},
		{"issuer", tagSequence, &issuer},
		{"validity", tagSequence, nil},
		{"subject", tagSequence, &subject},
		{"public key", tagSequence, nil},
	} {
		e, err := readExpect(&tbs, f.tag, f.tag == tagSequence)
		if err == nil && f.tag == tagInteger {
			err = checkInteger(e.body)
		}
		if err != nil {
			return nil, fmt.Errorf("certificate: %s: %w", f.what, err)
		}
		if f.into != nil {
			*f.into = e
		}
	}
	if err := checkElements(tbs); err != nil {
		return nil, fmt.Errorf("certificate: extensions: %w", err)
	}
	obj := &Object{Kind: Certificate, Name: subject.raw, DER: outer.raw}
	if obj.Hash, err = nameHash(subject); err != nil {
		return nil, fmt.Errorf("certificate: subject %w", err)
	}
	// Self-signed certificates (every root) have identical names: decode once.
	if !bytes.Equal(issuer.raw, subject.raw) {
		if _, err := canonicalName(nil, issuer); err != nil {
			return nil, fmt.Errorf("certificate: issuer %w", err)
		}
	}
	obj.HashOld = nameHashOld(subject)
	obj.Fingerprint = sha1.Sum(outer.raw)
	return obj, nil
}

// ParseCRL reads a DER CRL and returns its issuer hashes and fingerprint.
func ParseCRL(der []byte) (*Object, error) {
	outer, tbs, err := readSigned(der)
	if err != nil {
		return nil, fmt.Errorf("CRL: %w", err)
	}
	if peekIs(tbs, classUniversal, tagInteger, false) {
		v, _ := readElement(&tbs)
		if err := checkInteger(v.body); err != nil {
			return nil, fmt.Errorf("CRL: version: %w", err)
		}
	}
	if _, err := readExpect(&tbs, tagSequence, true); err != nil {
		return nil, fmt.Errorf("CRL: signature algorithm: %w", err)
	}
	issuer, err := readExpect(&tbs, tagSequence, true)
	if err != nil {
		return nil, fmt.Errorf("CRL: issuer: %w", err)
	}
	if err := checkElements(tbs); err != nil {
		return nil, fmt.Errorf("CRL: %w", err)
	}
	obj := &Object{Kind: CRL, Name: issuer.raw, DER: outer.raw}
	if obj.Hash, err = nameHash(issuer); err != nil {
		return nil, fmt.Errorf("CRL: issuer %w", err)
	}
	obj.HashOld = nameHashOld(issuer)
	obj.Fingerprint = sha1.Sum(outer.raw)
	return obj, nil
}

// readSigned reads the SIGNED{...} envelope shared by certificates and CRLs:
// SEQUENCE { tbs SEQUENCE, signatureAlgorithm, signature BIT STRING }.
// Data after the envelope is ignored, as OpenSSL's d2i ignores it.
func readSigned(der []byte) (outer element, tbs cryptobyte.String, err error) {
	s := cryptobyte.String(der)
	if outer, err = readExpect(&s, tagSequence, true); err != nil {
		return outer, nil, err
	}
	body := cryptobyte.String(outer.body)
	tbsEl, err := readExpect(&body, tagSequence, true)
	if err != nil {
		return outer, nil, fmt.Errorf("to-be-signed part: %w", err)
	}
	if err := checkSignatureTail(body); err != nil {
		return outer, nil, err
	}
	return outer, cryptobyte.String(tbsEl.body), nil
}

// checkSignatureTail checks what follows a tbsCertificate or tbsCertList:
// the signature algorithm and the signature BIT STRING, and nothing else.
func checkSignatureTail(s cryptobyte.String) error {
	if _, err := readExpect(&s, tagSequence, true); err != nil {
		return fmt.Errorf("signature algorithm: %w", err)
	}
	sig, err := readElement(&s)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if sig.class != classUniversal || sig.tag != tagBitString {
		return errors.New("signature is not a BIT STRING")
	}
	if !s.Empty() {
		return errors.New("trailing data after the signature")
	}
	return nil
}

// checkElements checks that s is a sequence of well-formed elements.
func checkElements(s cryptobyte.String) error {
	for !s.Empty() {
		if _, err := readElement(&s); err != nil {
			return err
		}
	}
	return nil
}

// checkInteger applies OpenSSL's INTEGER decoding rules: no empty content
// and no redundant leading 0x00 or 0xff octet. Negative serial numbers, which
// crypto/x509 refuses, are accepted.
func checkInteger(b []byte) error {
	switch {
	case len(b) == 0:
		return errors.New("empty INTEGER")
	case len(b) > 1 && b[0] == 0 && b[1]&0x80 == 0, len(b) > 1 && b[0] == 0xff && b[1]&0x80 != 0:
		return errors.New("INTEGER with redundant leading octets")
	}
	return nil
}
