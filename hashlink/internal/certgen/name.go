package certgen

import (
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Universal tags of the string types a Name value may carry.
const (
	TagBitString       = 3
	TagOctetString     = 4
	TagUTF8String      = 12
	TagNumericString   = 18
	TagPrintableString = 19
	TagT61String       = 20
	TagIA5String       = 22
	TagUTCTime         = 23
	TagVisibleString   = 26
	TagUniversalString = 28
	TagBMPString       = 30
)

// Common attribute types.
var (
	OIDCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	OIDCountry      = asn1.ObjectIdentifier{2, 5, 4, 6}
	OIDOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}
	OIDOrgUnit      = asn1.ObjectIdentifier{2, 5, 4, 11}
	OIDEmail        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	OIDDomainComp   = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
)

// Attr is one attribute of an RDN: its type and its value's universal tag
// and content octets. Raw, when set, replaces the whole value TLV (for
// constructed or otherwise hand-made encodings).
type Attr struct {
	OID   asn1.ObjectIdentifier
	Tag   int
	Value []byte
	Raw   []byte
}

// RDN is one relative distinguished name (a SET, possibly multi-valued).
type RDN []Attr

// Name encodes RDNs as a DER Name. The attributes of a multi-valued RDN are
// written in the order given, not sorted, so tests can check that OpenSSL's
// canonical form sorts them.
func Name(rdns ...RDN) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, rdn := range rdns {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, a := range rdn {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(a.OID)
						if a.Raw != nil {
							b.AddBytes(a.Raw)
							return
						}
						b.AddASN1(cbasn1.Tag(a.Tag), func(b *cryptobyte.Builder) {
							b.AddBytes(a.Value)
						})
					})
				}
			})
		}
	})
	return b.BytesOrPanic()
}

// Simple is a one-attribute RDN.
func Simple(oid asn1.ObjectIdentifier, tag int, value string) RDN {
	return RDN{{OID: oid, Tag: tag, Value: []byte(value)}}
}

// BMP encodes s as BMPString content (UTF-16BE, surrogate pairs for
// characters outside the BMP).
func BMP(s string) []byte {
	var out []byte
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			out = append(out, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return out
}

// Universal encodes s as UniversalString content (UCS-4 big-endian).
func Universal(s string) []byte {
	var out []byte
	for _, r := range s {
		out = append(out, byte(r>>24), byte(r>>16), byte(r>>8), byte(r))
	}
	return out
}

// Latin1 encodes s (whose characters must all be below U+0100) one byte per
// character, as T61String and the ASCII types carry bytes.
func Latin1(s string) []byte {
	var out []byte
	for _, r := range s {
		out = append(out, byte(r))
	}
	return out
}
