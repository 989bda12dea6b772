package hashlink

import (
	"errors"

	"golang.org/x/crypto/cryptobyte"
)

// This file reads BER/DER elements as OpenSSL's decoder (asn1_get_object)
// does, which is more lenient than cryptobyte's ReadASN1: OpenSSL accepts
// long-form lengths with leading zero octets and long-form lengths below 128
// (both forbidden in DER), and high tag numbers. Certificates with such
// encodings load in OpenSSL, which hashes them, while crypto/x509 refuses
// them; certinit must hash and link them too.
//
// Indefinite lengths (BER 0x80) are refused: OpenSSL accepts them for
// constructed elements, but no certificate seen in practice uses them.

// ASN.1 classes, as the top two bits of an identifier octet.
const (
	classUniversal = 0
)

// Universal tag numbers this package looks at.
const (
	tagBoolean       = 1
	tagInteger       = 2
	tagBitString     = 3
	tagOID           = 6
	tagUTF8String    = 12
	tagSequence      = 16
	tagSet           = 17
	tagNumericString = 18
	tagPrintable     = 19
	tagT61String     = 20
	tagIA5String     = 22
	tagVisible       = 26
	tagUniversalStr  = 28
	tagBMPString     = 30
)

// element is one decoded TLV.
type element struct {
	class       byte
	constructed bool
	tag         uint32
	raw         []byte // the whole TLV, as encoded
	body        []byte // the content octets
}

var (
	errTruncated  = errors.New("truncated or malformed DER")
	errIndefinite = errors.New("indefinite-length encoding is not supported")
)

// readElement reads one element from s, with OpenSSL's leniency.
func readElement(s *cryptobyte.String) (element, error) {
	start := *s
	var id byte
	if !s.ReadUint8(&id) {
		return element{}, errTruncated
	}
	e := element{class: id >> 6, constructed: id&0x20 != 0, tag: uint32(id & 0x1f)}
	if e.tag == 0x1f {
		// High tag number: base-128 digits, high bit set on all but the last.
		var t uint32
		for {
			var b byte
			if !s.ReadUint8(&b) {
				return element{}, errTruncated
			}
			if t > (1<<31-1)>>7 {
				return element{}, errTruncated
			}
			t = t<<7 | uint32(b&0x7f)
			if b&0x80 == 0 {
				break
			}
		}
		e.tag = t
	}
	var l0 byte
	if !s.ReadUint8(&l0) {
		return element{}, errTruncated
	}
	length := uint64(l0)
	switch {
	case l0 == 0x80:
		return element{}, errIndefinite
	case l0 > 0x80:
		n := int(l0 & 0x7f)
		var lb []byte
		if !s.ReadBytes(&lb, n) {
			return element{}, errTruncated
		}
		for len(lb) > 0 && lb[0] == 0 { // leading zeros are accepted
			lb = lb[1:]
		}
		if len(lb) > 8 {
			return element{}, errTruncated
		}
		length = 0
		for _, b := range lb {
			length = length<<8 | uint64(b)
		}
		if length > 1<<62 {
			return element{}, errTruncated
		}
	}
	if length > uint64(len(*s)) {
		return element{}, errTruncated
	}
	hdr := len(start) - len(*s)
	var body []byte
	s.ReadBytes(&body, int(length))
	e.body = body
	e.raw = start[:hdr+int(length)]
	return e, nil
}

// readExpect reads one element and checks that it is the universal,
// constructed or primitive element with the given tag.
func readExpect(s *cryptobyte.String, tag uint32, constructed bool) (element, error) {
	e, err := readElement(s)
	if err != nil {
		return e, err
	}
	if e.class != classUniversal || e.tag != tag || e.constructed != constructed {
		return e, errUnexpected(tag)
	}
	return e, nil
}

type errUnexpected uint32

func (e errUnexpected) Error() string {
	return "malformed DER: unexpected element where tag " + itoa(uint32(e)) + " was expected"
}

func itoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

// peekIs reports whether the next element of s has the given class, tag and
// form, without consuming it.
func peekIs(s cryptobyte.String, class byte, tag uint32, constructed bool) bool {
	if len(s) == 0 {
		return false
	}
	e, err := readElement(&s)
	return err == nil && e.class == class && e.tag == tag && e.constructed == constructed
}

// appendTLV appends a DER element (definite, minimal length) to out.
func appendTLV(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	return append(appendLength(out, len(body)), body...)
}

// appendLength appends a minimal DER length.
func appendLength(out []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(out, byte(n))
	case n < 1<<8:
		return append(out, 0x81, byte(n))
	case n < 1<<16:
		return append(out, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		return append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
