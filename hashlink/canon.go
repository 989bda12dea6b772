package hashlink

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// This file builds OpenSSL's canonical encoding of a Name (x509_name_canon
// and asn1_string_canon in crypto/x509/x_name.c), the input of the new-style
// subject hash. OpenSSL computes it while decoding every certificate, so a
// name it cannot canonicalise makes the whole certificate fail to load; the
// same names are errors here, so certinit never links what OpenSSL cannot
// read.
//
// The canonical encoding is the concatenation of the Name's RDN SETs without
// the outer SEQUENCE header. In it:
//   - every value of a "canonicalised" string type becomes a UTF8String,
//     trimmed of leading and trailing whitespace, with inner runs of
//     whitespace collapsed to one space and ASCII letters lower-cased;
//   - every other value is re-encoded unchanged (in DER);
//   - the attributes of a multi-valued RDN are sorted by their encoding, as
//     DER sorts a SET OF, so both orders of the same RDN hash alike;
//   - empty RDN SETs vanish, and a Name without attributes encodes as zero
//     bytes (its hash is that of SHA-1 of nothing, eea339da).

// maxNameLen is OpenSSL's X509_NAME_MAX: it decodes at most this many bytes of
// a Name.
const maxNameLen = 1 << 20

// maxStringNest is OpenSSL's ASN1_MAX_STRING_NEST: how deep constructed
// (BER) strings may nest.
const maxStringNest = 5

// valueTags lists the universal tags OpenSSL accepts as a Name attribute
// value: the value is an ASN1_PRINTABLE, a multi-string whose mask
// (B_ASN1_PRINTABLE) admits NumericString, PrintableString, T61String,
// IA5String, BIT STRING, UniversalString, BMPString, UTF8String, SEQUENCE and
// the tags ASN1_tag2bit maps to B_ASN1_UNKNOWN (7, 8, 9, 11, 13, 14, 15, 29).
// Any other tag (OCTET STRING, VisibleString, UTCTime, GeneralString, ...)
// makes OpenSSL refuse the certificate.
var valueTags = [31]bool{
	3: true, 7: true, 8: true, 9: true, 11: true, 12: true, 13: true, 14: true,
	15: true, 16: true, 18: true, 19: true, 20: true, 22: true, 28: true,
	29: true, 30: true,
}

// canonTags lists the types asn1_string_canon converts to lower-cased,
// space-folded UTF-8 (ASN1_MASK_CANON). NumericString is not among them: it
// is hashed as encoded. VisibleString is in OpenSSL's mask but never reaches
// it, since the decoder refuses it first (see valueTags).
var canonTags = [31]bool{12: true, 19: true, 20: true, 22: true, 28: true, 30: true}

// canonicalName returns the canonical encoding of the DER Name in raw (one
// complete SEQUENCE element), appended to out.
func canonicalName(out []byte, name element) ([]byte, error) {
	if name.class != classUniversal || name.tag != tagSequence || !name.constructed {
		return nil, errors.New("name is not a SEQUENCE")
	}
	if len(name.raw) > maxNameLen {
		return nil, fmt.Errorf("name longer than %d bytes", maxNameLen)
	}
	rdns := cryptobyte.String(name.body)
	var entries [][]byte // reused per RDN
	for !rdns.Empty() {
		set, err := readExpect(&rdns, tagSet, true)
		if err != nil {
			return nil, fmt.Errorf("name: RDN: %w", err)
		}
		attrs := cryptobyte.String(set.body)
		entries = entries[:0]
		for !attrs.Empty() {
			ent, err := canonicalAttr(&attrs)
			if err != nil {
				return nil, fmt.Errorf("name: %w", err)
			}
			entries = append(entries, ent)
		}
		if len(entries) == 0 {
			continue
		}
		if len(entries) > 1 {
			slices.SortFunc(entries, bytes.Compare)
		}
		n := 0
		for _, e := range entries {
			n += len(e)
		}
		out = append(out, 0x31)
		out = appendLength(out, n)
		for _, e := range entries {
			out = append(out, e...)
		}
	}
	return out, nil
}

// canonicalAttr reads one AttributeTypeAndValue and returns its canonical
// DER (a SEQUENCE of the type OID and the canonical value).
func canonicalAttr(s *cryptobyte.String) ([]byte, error) {
	seq, err := readExpect(s, tagSequence, true)
	if err != nil {
		return nil, fmt.Errorf("attribute: %w", err)
	}
	body := cryptobyte.String(seq.body)
	oid, err := readExpect(&body, tagOID, false)
	if err != nil {
		return nil, fmt.Errorf("attribute type: %w", err)
	}
	if err := checkOID(oid.body); err != nil {
		return nil, err
	}
	val, err := readElement(&body)
	if err != nil {
		return nil, fmt.Errorf("attribute value: %w", err)
	}
	if !body.Empty() {
		return nil, errors.New("attribute has more than a type and a value")
	}
	inner := make([]byte, 0, len(oid.body)+len(val.body)+8)
	inner = appendTLV(inner, 0x06, oid.body)
	inner, err = canonicalValue(inner, val)
	if err != nil {
		return nil, err
	}
	return appendTLV(make([]byte, 0, len(inner)+4), 0x30, inner), nil
}

// checkOID applies c2i_ASN1_OBJECT's checks: not empty, the last octet ends a
// sub-identifier, and no sub-identifier starts with 0x80 (a non-minimal
// base-128 digit).
func checkOID(b []byte) error {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return errors.New("invalid attribute type OID encoding")
	}
	for i, c := range b {
		if c == 0x80 && (i == 0 || b[i-1]&0x80 == 0) {
			return errors.New("invalid attribute type OID encoding")
		}
	}
	return nil
}

// canonicalValue appends the canonical encoding of one attribute value.
func canonicalValue(out []byte, v element) ([]byte, error) {
	if v.class != classUniversal || v.tag > 30 || !valueTags[v.tag] {
		return nil, fmt.Errorf("attribute value of ASN.1 type class %d tag %d is not allowed in a name", v.class, v.tag)
	}
	if v.tag == tagSequence {
		// SEQUENCE values stay in their encoded form, header included.
		if !v.constructed {
			return nil, errors.New("primitive SEQUENCE in name")
		}
		return append(out, v.raw...), nil
	}
	content := v.body
	if v.constructed {
		// A BER constructed string: OpenSSL concatenates its primitive
		// segments, whatever their tags.
		var err error
		if content, err = collectString(nil, v.body, 0); err != nil {
			return nil, err
		}
	}
	switch {
	case canonTags[v.tag]:
		return appendCanonString(out, v.tag, content)
	case v.tag == tagBitString:
		return appendBitString(out, content)
	default:
		// NumericString and the "unknown" types are copied as they are.
		return appendTLV(out, byte(v.tag), content), nil
	}
}

// collectString concatenates the primitive segments of a constructed string
// (asn1_collect): segments may be of any tag, nest up to maxStringNest deep,
// and an end-of-contents marker is illegal in a definite-length encoding.
func collectString(out, body []byte, depth int) ([]byte, error) {
	s := cryptobyte.String(body)
	for !s.Empty() {
		if len(s) >= 2 && s[0] == 0 && s[1] == 0 {
			return nil, errors.New("unexpected end-of-contents in constructed string")
		}
		e, err := readElement(&s)
		if err != nil {
			return nil, err
		}
		if e.constructed {
			if depth >= maxStringNest {
				return nil, errors.New("constructed string nested too deep")
			}
			if out, err = collectString(out, e.body, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, e.body...)
	}
	return out, nil
}

// appendBitString re-encodes a BIT STRING value as OpenSSL's c2i/i2c pair
// does: the unused-bits count must be 0..7, unused bits of the last octet are
// cleared, and an empty bit string is written with a zero count.
func appendBitString(out, content []byte) ([]byte, error) {
	if len(content) < 1 {
		return nil, errors.New("BIT STRING value too short")
	}
	unused := content[0]
	if unused > 7 {
		return nil, errors.New("BIT STRING value with more than 7 unused bits")
	}
	data := content[1:]
	if len(data) == 0 {
		return append(out, 0x03, 0x01, 0x00), nil
	}
	out = append(out, 0x03)
	out = appendLength(out, len(data)+1)
	out = append(out, unused)
	out = append(out, data...)
	out[len(out)-1] &= 0xff << unused
	return out, nil
}

// isSpace is OpenSSL's ossl_isspace: the six ASCII whitespace characters.
// Bytes of multi-byte UTF-8 sequences (0x80 and above) are never space, so
// U+00A0 and other Unicode spaces are kept as they are.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// appendCanonString appends the canonical UTF8String of a string value of
// one of the canonTags types.
func appendCanonString(out []byte, tag uint32, content []byte) ([]byte, error) {
	u, err := toUTF8(tag, content)
	if err != nil {
		return nil, err
	}
	// Trim leading and trailing whitespace.
	for len(u) > 0 && isSpace(u[0]) {
		u = u[1:]
	}
	for len(u) > 0 && isSpace(u[len(u)-1]) {
		u = u[:len(u)-1]
	}
	// The folded string is never longer than u, so the header can be written
	// first with a length patched in afterwards only when it shrank.
	start := len(out)
	out = append(out, 0x0c)
	out = appendLength(out, len(u))
	hdr := len(out) - start
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c >= 0x80:
			out = append(out, c) // non-ASCII is copied: no Unicode case folding
		case isSpace(c):
			out = append(out, ' ') // a run of whitespace becomes one space
			for i+1 < len(u) && isSpace(u[i+1]) {
				i++
			}
		case c >= 'A' && c <= 'Z':
			out = append(out, c+('a'-'A')) // ASCII letters only
		default:
			out = append(out, c)
		}
	}
	if n := len(out) - start - hdr; n != len(u) {
		// Re-write the header with the shorter length.
		body := append([]byte(nil), out[start+hdr:]...)
		out = appendTLV(out[:start], 0x0c, body)
	}
	return out, nil
}

// toUTF8 converts string content to UTF-8 as ASN1_STRING_to_UTF8 does:
// UTF8String is checked and kept; PrintableString, T61String and IA5String
// are read one byte per character as Latin-1 (no check of their character
// sets: "é" in a PrintableString or IA5String hashes as U+00E9, and T61
// is not decoded as T.61); BMPString is read as UCS-2 big-endian, each 16-bit
// unit one character, so surrogates (UTF-16 pairs) are refused; and
// UniversalString as UCS-4 big-endian. Characters beyond U+10FFFF and
// surrogates are refused in every form.
func toUTF8(tag uint32, b []byte) ([]byte, error) {
	switch tag {
	case tagUTF8String:
		if !utf8.Valid(b) {
			return nil, errors.New("invalid UTF8String in name")
		}
		return b, nil
	case tagBMPString:
		if len(b)%2 != 0 {
			return nil, errors.New("BMPString of odd length in name")
		}
		out := make([]byte, 0, len(b)+len(b)/2)
		for i := 0; i < len(b); i += 2 {
			r := rune(b[i])<<8 | rune(b[i+1])
			if r >= 0xD800 && r <= 0xDFFF {
				return nil, errors.New("BMPString with a surrogate in name")
			}
			out = utf8.AppendRune(out, r)
		}
		return out, nil
	case tagUniversalStr:
		if len(b)%4 != 0 {
			return nil, errors.New("UniversalString length not a multiple of 4 in name")
		}
		out := make([]byte, 0, len(b))
		for i := 0; i < len(b); i += 4 {
			r := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
			if r > utf8.MaxRune || (r >= 0xD800 && r <= 0xDFFF) {
				return nil, errors.New("UniversalString with an invalid character in name")
			}
			out = utf8.AppendRune(out, rune(r))
		}
		return out, nil
	default: // PrintableString, T61String, IA5String: Latin-1
		ascii := true
		for _, c := range b {
			if c >= 0x80 {
				ascii = false
				break
			}
		}
		if ascii {
			return b, nil
		}
		out := make([]byte, 0, len(b)*2)
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return out, nil
	}
}
