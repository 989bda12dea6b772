package hashlink

import (
	"strconv"
	"strings"
)

// This file holds OpenSSL's rules for names in a hash directory. They are
// three different rules, and every package that looks at such a directory
// (truststore, watch, probe) asks these functions rather than keeping a
// copy:
//
//   - IsCandidate: which files `openssl rehash` reads for certificates and
//     CRLs (apps/rehash.c, do_dir: the extension after the last dot);
//   - ParseLinkName: which existing names `openssl rehash` takes for hash
//     links it manages and may replace or remove (apps/rehash.c,
//     handle_symlink: lenient, either case, a strtoul number);
//   - IsLookupName: which names OpenSSL's capath lookup actually opens
//     (crypto/x509/by_dir.c: "%08lx.%s%d", lower-case hex, no sign, no
//     leading zeros). A name ParseLinkName accepts, such as "ABCDEF01.00",
//     is managed by rehash but never read by a TLS handshake.

// candidateExts are the extensions `openssl rehash` reads, compared without
// regard to case. Every other file in the directory is ignored.
var candidateExts = []string{"pem", "crt", "cer", "crl"}

// IsCandidate reports whether `openssl rehash` reads a file of this name
// for a certificate or CRL: its extension (after the last dot, any case)
// is pem, crt, cer or crl.
func IsCandidate(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return false
	}
	for _, ext := range candidateExts {
		if strings.EqualFold(name[i+1:], ext) {
			return true
		}
	}
	return false
}

// LinkName is a hash link's name taken apart: HASH.ID for a certificate,
// HASH.rID for a CRL.
type LinkName struct {
	Hash uint32
	CRL  bool
	ID   uint16
}

// String formats the name as OpenSSL does ("%08x.%s%d"): the name the
// capath lookup opens.
func (n LinkName) String() string {
	r := ""
	if n.CRL {
		r = "r"
	}
	return FormatHash(n.Hash) + "." + r + strconv.Itoa(int(n.ID))
}

// ParseLinkName reports whether `openssl rehash` takes name for a hash
// link (when it is a symbolic link), as handle_symlink does: eight hex
// digits in either case, a dot, an optional "r" or "R" for CRLs, and a
// number read with C's strtoul (leading white space and a sign allowed, an
// empty number is 0, the value cut to 16 bits). An ID of 65535 means "no
// link" to OpenSSL's bucket table, and the planner treats it so too.
func ParseLinkName(name string) (LinkName, bool) {
	var n LinkName
	if len(name) < 9 || name[8] != '.' {
		return n, false
	}
	for i := 0; i < 8; i++ {
		c := name[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return n, false
		}
		n.Hash = n.Hash<<4 | uint32(d)
	}
	rest := name[9:]
	if len(rest) > 0 && (rest[0] == 'r' || rest[0] == 'R') {
		n.CRL = true
		rest = rest[1:]
	}
	v, ok := strtoul(rest)
	n.ID = uint16(v)
	return n, ok
}

// IsLookupName reports whether OpenSSL's capath lookup opens a file of this
// name: exactly what LinkName.String gives, eight lower-case hex digits, a
// dot, "r" for CRLs, and a decimal number without sign or leading zeros.
func IsLookupName(name string) bool {
	if len(name) < 10 || name[8] != '.' {
		return false
	}
	for i := 0; i < 8; i++ {
		if c := name[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	num := strings.TrimPrefix(name[9:], "r")
	if num == "" || len(num) > 1 && num[0] == '0' {
		return false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return false
		}
	}
	return true
}

// strtoul mimics C's strtoul(s, &end, 10) followed by the check *end == 0.
func strtoul(s string) (uint64, bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	digits := i
	var v uint64
	overflow := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (^uint64(0)-d)/10 {
			overflow = true
		}
		v = v*10 + d
		i++
	}
	if i == digits {
		// No digits: strtoul sets end to the start of s.
		return 0, s == ""
	}
	if i != len(s) {
		return 0, false
	}
	if overflow {
		return ^uint64(0), true
	}
	if neg {
		v = -v
	}
	return v, true
}
