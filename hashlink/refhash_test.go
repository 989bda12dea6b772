package hashlink

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"sort"
	"unicode/utf8"
)

// This file is a slow, independent reference for NameHash and NameHashOld,
// used by FuzzNameHash and TestDifferentialRandomNames as a second opinion.
// It is written from OpenSSL's rules (crypto/x509/x_name.c x509_name_canon
// and asn1_string_canon, crypto/asn1/tasn_dec.c asn1_d2i_ex_primitive and
// asn1_collect, crypto/asn1/asn1_lib.c ASN1_get_object), not from canon.go:
// it parses into a tree first, works on runes rather than bytes, sorts with
// OpenSSL's der_cmp and re-encodes every length from scratch. Where certinit
// deliberately differs from OpenSSL (it refuses BER indefinite lengths) the
// reference does too, so the two must agree on every input: which names are
// refused, and both hashes of the others.

// refNode is one decoded BER element.
type refNode struct {
	class       int
	constructed bool
	tag         int
	header      []byte // identifier and length octets as encoded
	content     []byte
}

func (n refNode) encoded() []byte { return append(append([]byte{}, n.header...), n.content...) }

// refParse decodes the element at the start of b and returns it with the
// bytes after it. It follows ASN1_get_object: high tag numbers up to
// INT_MAX, long-form lengths of any width once leading zero octets are
// dropped (but at most sizeof(long) significant ones), no indefinite form.
func refParse(b []byte) (refNode, []byte, bool) {
	var n refNode
	pos := 0
	if pos >= len(b) {
		return n, nil, false
	}
	id := b[pos]
	pos++
	n.class = int(id >> 6)
	n.constructed = id&0x20 != 0
	n.tag = int(id & 0x1f)
	if n.tag == 31 {
		tag := 0
		for {
			if pos >= len(b) {
				return n, nil, false
			}
			c := b[pos]
			pos++
			tag = tag*128 + int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
			if tag > 0x7fffffff>>7 {
				return n, nil, false
			}
		}
		n.tag = tag
	}
	if pos >= len(b) {
		return n, nil, false
	}
	first := b[pos]
	pos++
	var length int
	switch {
	case first < 0x80:
		length = int(first)
	case first == 0x80:
		return n, nil, false // indefinite: refused by certinit
	default:
		count := int(first & 0x7f)
		if pos+count > len(b) {
			return n, nil, false
		}
		octets := b[pos : pos+count]
		pos += count
		for len(octets) > 0 && octets[0] == 0 {
			octets = octets[1:]
		}
		if len(octets) > 8 {
			return n, nil, false
		}
		for _, o := range octets {
			if length > (len(b) >> 8) { // already longer than the input
				return n, nil, false
			}
			length = length<<8 | int(o)
		}
	}
	if length < 0 || length > len(b)-pos {
		return n, nil, false
	}
	n.header = b[:pos]
	n.content = b[pos : pos+length]
	return n, b[pos+length:], true
}

// refChildren decodes every element of a constructed element's content.
func refChildren(content []byte) ([]refNode, bool) {
	var out []refNode
	for len(content) > 0 {
		n, rest, ok := refParse(content)
		if !ok {
			return nil, false
		}
		out = append(out, n)
		content = rest
	}
	return out, true
}

// refNameHashes returns the new and old hash of a DER Name, or ok = false
// where OpenSSL cannot decode the name.
func refNameHashes(der []byte) (newHash, oldHash uint32, ok bool) {
	name, rest, ok := refParse(der)
	if !ok || len(rest) != 0 || len(der) > 1<<20 {
		return 0, 0, false
	}
	if name.class != 0 || name.tag != 16 || !name.constructed {
		return 0, 0, false
	}
	rdns, ok := refChildren(name.content)
	if !ok {
		return 0, 0, false
	}
	var canon []byte
	for _, rdn := range rdns {
		if rdn.class != 0 || rdn.tag != 17 || !rdn.constructed {
			return 0, 0, false
		}
		attrs, ok := refChildren(rdn.content)
		if !ok {
			return 0, 0, false
		}
		var encs [][]byte
		for _, a := range attrs {
			enc, ok := refAttr(a)
			if !ok {
				return 0, 0, false
			}
			encs = append(encs, enc)
		}
		if len(encs) == 0 {
			continue
		}
		// DER orders a SET OF by its encodings (OpenSSL's der_cmp).
		sort.SliceStable(encs, func(i, j int) bool { return refDERCmp(encs[i], encs[j]) < 0 })
		var set []byte
		for _, e := range encs {
			set = append(set, e...)
		}
		canon = append(canon, refTLV(0x31, set)...)
	}
	s := sha1.Sum(canon)
	m := md5.Sum(der)
	return binary.LittleEndian.Uint32(s[:]), binary.LittleEndian.Uint32(m[:]), true
}

// refDERCmp is OpenSSL's der_cmp: memcmp over the shorter length, then the
// shorter first.
func refDERCmp(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return len(a) - len(b)
}

// refAttr canonicalises one AttributeTypeAndValue.
func refAttr(a refNode) ([]byte, bool) {
	if a.class != 0 || a.tag != 16 || !a.constructed {
		return nil, false
	}
	parts, ok := refChildren(a.content)
	if !ok || len(parts) != 2 {
		return nil, false
	}
	oid, val := parts[0], parts[1]
	if oid.class != 0 || oid.tag != 6 || oid.constructed || !refOIDOK(oid.content) {
		return nil, false
	}
	v, ok := refValue(val)
	if !ok {
		return nil, false
	}
	return refTLV(0x30, append(refTLV(0x06, oid.content), v...)), true
}

// refOIDOK is c2i_ASN1_OBJECT's check: non-empty, the last octet ends a
// sub-identifier, no sub-identifier starts with a 0x80 padding octet.
func refOIDOK(b []byte) bool {
	if len(b) == 0 || b[len(b)-1] >= 0x80 {
		return false
	}
	start := true
	for _, c := range b {
		if start && c == 0x80 {
			return false
		}
		start = c < 0x80
	}
	return true
}

// refValue decodes an attribute value as the ASN1_PRINTABLE multi-string
// (DirectoryString) and canonicalises it.
func refValue(v refNode) ([]byte, bool) {
	if v.class != 0 {
		return nil, false
	}
	switch v.tag {
	case 3, 12, 18, 19, 20, 22, 28, 30, // B_ASN1_PRINTABLE's string types
		7, 8, 9, 11, 13, 14, 15, 29: // tags ASN1_tag2bit maps to B_ASN1_UNKNOWN
	case 16:
		if !v.constructed {
			return nil, false
		}
		return v.encoded(), true // kept exactly as encoded
	default:
		return nil, false
	}
	content := v.content
	if v.constructed {
		var ok bool
		if content, ok = refCollect(v.content, 0); !ok {
			return nil, false
		}
	}
	switch v.tag {
	case 3:
		if len(content) == 0 || content[0] > 7 {
			return nil, false
		}
		bits := append([]byte{}, content[1:]...)
		if len(bits) == 0 {
			return []byte{0x03, 0x01, 0x00}, true
		}
		bits[len(bits)-1] &= byte(0xff << content[0])
		return refTLV(0x03, append([]byte{content[0]}, bits...)), true
	case 12, 19, 20, 22, 28, 30:
		runes, ok := refDecode(v.tag, content)
		if !ok {
			return nil, false
		}
		return refTLV(0x0c, []byte(string(refFold(runes)))), true
	default:
		return refTLV(byte(v.tag), content), true
	}
}

// refCollect concatenates the primitive pieces of a constructed string,
// nesting at most 5 deep, refusing an end-of-contents marker.
func refCollect(content []byte, depth int) ([]byte, bool) {
	var out []byte
	for len(content) > 0 {
		if len(content) >= 2 && content[0] == 0 && content[1] == 0 {
			return nil, false
		}
		n, rest, ok := refParse(content)
		if !ok {
			return nil, false
		}
		if n.constructed {
			if depth+1 > 5 {
				return nil, false
			}
			inner, ok := refCollect(n.content, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, inner...)
		} else {
			out = append(out, n.content...)
		}
		content = rest
	}
	return out, true
}

// refDecode turns string content into characters as ASN1_STRING_to_UTF8
// reads it: UTF8String as UTF-8, BMPString as 2-byte and UniversalString as
// 4-byte big-endian units, the others one byte per character.
func refDecode(tag int, b []byte) ([]rune, bool) {
	var out []rune
	valid := func(r rune) bool { return r <= 0x10ffff && (r < 0xd800 || r > 0xdfff) }
	switch tag {
	case 12:
		for len(b) > 0 {
			r, size := utf8.DecodeRune(b)
			if r == utf8.RuneError && size <= 1 {
				return nil, false
			}
			out = append(out, r)
			b = b[size:]
		}
	case 30:
		if len(b)%2 != 0 {
			return nil, false
		}
		for i := 0; i < len(b); i += 2 {
			r := rune(binary.BigEndian.Uint16(b[i:]))
			if !valid(r) {
				return nil, false
			}
			out = append(out, r)
		}
	case 28:
		if len(b)%4 != 0 {
			return nil, false
		}
		for i := 0; i < len(b); i += 4 {
			u := binary.BigEndian.Uint32(b[i:])
			if u > 0x10ffff || !valid(rune(u)) {
				return nil, false
			}
			out = append(out, rune(u))
		}
	default:
		for _, c := range b {
			out = append(out, rune(c))
		}
	}
	return out, true
}

// refFold is asn1_string_canon's folding: drop leading and trailing ASCII
// white space, collapse inner runs of it to one space, lower-case ASCII
// letters; leave every other character alone.
func refFold(in []rune) []rune {
	isWS := func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
	}
	for len(in) > 0 && isWS(in[0]) {
		in = in[1:]
	}
	for len(in) > 0 && isWS(in[len(in)-1]) {
		in = in[:len(in)-1]
	}
	var out []rune
	for _, r := range in {
		switch {
		case isWS(r):
			// Every space in out stands for a run of white space (the
			// first character is not one), so the run goes on.
			if out[len(out)-1] != ' ' {
				out = append(out, ' ')
			}
		case r >= 'A' && r <= 'Z':
			out = append(out, r-'A'+'a')
		default:
			out = append(out, r)
		}
	}
	return out
}

// refTLV encodes a DER element with the minimal length form.
func refTLV(id byte, body []byte) []byte {
	n := len(body)
	var lenOctets []byte
	if n < 128 {
		lenOctets = []byte{byte(n)}
	} else {
		var be []byte
		for v := n; v > 0; v >>= 8 {
			be = append([]byte{byte(v)}, be...)
		}
		lenOctets = append([]byte{0x80 | byte(len(be))}, be...)
	}
	out := append([]byte{id}, lenOctets...)
	return append(out, body...)
}
