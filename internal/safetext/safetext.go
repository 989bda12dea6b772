// Package safetext escapes text that certinit prints but did not write
// itself (certificate names, file names, what a server sent, error messages
// that carry any of these) so that it stays on its line: a newline or a
// terminal escape sequence in a certificate subject must not forge a line
// of certinit's output ("verdict: ok") or recolour a terminal.
//
// A character is printable when strconv.IsPrint says so (letters, marks,
// numbers, punctuation, symbols and the ASCII space); everything else
// (control characters, other spaces, format characters such as the
// bidirectional overrides, and bytes that are not UTF-8) is escaped, in one
// of two forms:
//   - Name, for distinguished names as crypto/x509 formats them (RFC 4514):
//     each such character becomes \XX hex pairs of its bytes, the escape
//     RFC 4514 itself defines, so the result is still a name a parser
//     reads back;
//   - Quote, for everything else: the text as it is when every character is
//     printable, otherwise Go's %q form, quotes included, as slog's text
//     handler prints such values.
//
// Log records need neither: slog's text and JSON handlers escape what they
// write. Output formats with their own escaping (JSON, embed's C source)
// do not use this package either.
package safetext

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Name returns the RFC 4514 string dn with every character that is not
// printable written as \XX hex pairs ("CN=evil\0Aline").
func Name(dn string) string {
	if printable(dn) {
		return dn
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(dn); {
		r, size := utf8.DecodeRuneInString(dn[i:])
		if isPrint(r, size) {
			b.WriteString(dn[i : i+size])
		} else {
			for _, c := range []byte(dn[i : i+size]) {
				b.WriteByte('\\')
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
		}
		i += size
	}
	return b.String()
}

// Quote returns s when every character of it is printable, else s in Go's
// double-quoted form (strconv.Quote), which escapes the others.
func Quote(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

// printable reports whether every character of s is printable.
func printable(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isPrint(r, size) {
			return false
		}
		i += size
	}
	return true
}

// isPrint says whether the rune r, decoded from size bytes, is printable;
// a byte that is not UTF-8 decodes as RuneError of size 1 and is not.
func isPrint(r rune, size int) bool {
	return strconv.IsPrint(r) && !(r == utf8.RuneError && size == 1)
}
