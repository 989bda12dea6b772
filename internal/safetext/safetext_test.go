package safetext

import (
	"crypto/x509/pkix"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile holds the characters a forged line or a recoloured terminal
// needs, and others that are not printable.
var hostile = []string{"\n", "\r", "\x1b[31m", "\x00", "\t", "\x7f", "\u0085", "\u2028", "\u202e", "\xff"}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "/etc/ssl/certs/ISRG Root X1.pem", "CN=Grüße,O=例"} {
		if got := Quote(s); got != s {
			t.Errorf("Quote(%q) = %q, want it unchanged", s, got)
		}
	}
	for _, h := range hostile {
		s := "a" + h + "b"
		got := Quote(s)
		if !safe(got) {
			t.Errorf("Quote(%q) = %q still holds a character that is not printable", s, got)
		}
		if back, err := strconv.Unquote(got); err != nil || back != s {
			t.Errorf("Quote(%q) = %q does not read back (%q, %v)", s, got, back, err)
		}
	}
}

// TestName: a name with characters that are not printable comes out
// printable, and it is still the same name: its RFC 4514 hex escapes read
// back to the value the certificate holds.
func TestName(t *testing.T) {
	if got := Name(`CN=a\,b,O=Grüße`); got != `CN=a\,b,O=Grüße` {
		t.Errorf("a printable name changed: %q", got)
	}
	for _, h := range hostile {
		if !utf8.ValidString(h) {
			continue // crypto/x509 decodes names into UTF-8; Quote covers such bytes
		}
		cn := "evil" + h + "verdict: ok"
		n := pkix.Name{CommonName: cn}
		got := Name(n.String())
		if !safe(got) {
			t.Errorf("Name(%q) = %q still holds a character that is not printable", n.String(), got)
		}
		if back := unescape4514(t, strings.TrimPrefix(got, "CN=")); back != cn {
			t.Errorf("Name(%q) = %q reads back as %q", n.String(), got, back)
		}
	}
}

func safe(s string) bool {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

// unescape4514 decodes RFC 4514 escapes (\XX hex pairs and \ before a
// special character) of one attribute value.
func unescape4514(t *testing.T, v string) string {
	t.Helper()
	var b []byte
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b = append(b, v[i])
			continue
		}
		if i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			n, _ := strconv.ParseUint(v[i+1:i+3], 16, 8)
			b = append(b, byte(n))
			i += 2
			continue
		}
		i++
		b = append(b, v[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

// FuzzName: whatever the common name, Name's output is printable and
// decodes back to it.
func FuzzName(f *testing.F) {
	for _, h := range hostile {
		f.Add("evil" + h)
	}
	f.Fuzz(func(t *testing.T, cn string) {
		if !utf8.ValidString(cn) {
			return // crypto/x509 decodes names into UTF-8
		}
		n := pkix.Name{CommonName: cn}
		got := Name(n.String())
		if !safe(got) {
			t.Fatalf("Name(%q) = %q", n.String(), got)
		}
		if back := unescape4514(t, strings.TrimPrefix(got, "CN=")); back != cn {
			t.Fatalf("Name(%q) = %q reads back as %q", n.String(), got, back)
		}
	})
}
