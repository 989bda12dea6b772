package acme

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/certinit/certinit/internal/userfile"
	"github.com/miekg/dns"
)

// tsigKey is a TSIG key (RFC 8945) for RFC 2136 updates.
type tsigKey struct {
	name      string // canonical: lower case, trailing dot
	algorithm string // miekg/dns's name, e.g. dns.HmacSHA256
	secret    string // base64, as in the key file
}

// tsigAlgorithms are the algorithms BIND's tsig-keygen makes, by the name
// the key file uses. hmac-md5 is left out: it is deprecated (RFC 8945
// section 6) and the DNS library no longer signs with it.
var tsigAlgorithms = map[string]string{
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// maxKeyFile bounds a TSIG key file: a key statement is about a hundred
// bytes.
const maxKeyFile = 64 << 10

// readTSIGKey reads a key file as tsig-keygen and ddns-confgen write it,
// and as BIND's named.conf includes it:
//
//	key "NAME" {
//		algorithm hmac-sha256;
//		secret "BASE64";
//	};
//
// Comments (#, //, /* */) are allowed. The file must hold exactly one key.
func readTSIGKey(path string) (*tsigKey, error) {
	data, err := userfile.Read(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	k, err := parseTSIGKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Key file syntax (named.conf's). Quoted strings are matched first so
// that a "//" inside a base64 secret is not taken for a comment.
var (
	keyFileLexemes = regexp.MustCompile(`(?s)"[^"]*"|/\*.*?\*/|//[^\n]*|#[^\n]*`)
	keyStatement   = regexp.MustCompile(`(?s)^\s*key\s+("[^"]*"|[^\s{]+)\s*\{([^}]*)\}\s*;`)
	keyOption      = regexp.MustCompile(`^\s*([a-z-]+)\s+("[^"]*"|[^\s"]+)\s*$`)
)

func parseTSIGKey(text string) (*tsigKey, error) {
	text = keyFileLexemes.ReplaceAllStringFunc(text, func(s string) string {
		if strings.HasPrefix(s, `"`) {
			return s
		}
		return " " // a comment
	})
	m := keyStatement.FindStringSubmatch(text)
	if m == nil {
		return nil, errors.New(`no key statement (key "NAME" { algorithm hmac-sha256; secret "BASE64"; };)`)
	}
	rest := strings.TrimSpace(text[len(m[0]):])
	switch {
	case keyStatement.MatchString(rest):
		return nil, errors.New("more than one key statement; give a file with the one key for these updates")
	case rest != "":
		return nil, fmt.Errorf("unexpected %q after the key statement", firstWords(rest))
	}
	k := &tsigKey{name: dns.CanonicalName(strings.Trim(m[1], `"`))}
	opts := strings.Split(m[2], ";")
	if last := opts[len(opts)-1]; strings.TrimSpace(last) != "" {
		return nil, fmt.Errorf("%q in the key statement does not end with ;", firstWords(last))
	}
	for _, o := range opts[:len(opts)-1] {
		om := keyOption.FindStringSubmatch(o)
		if om == nil {
			return nil, fmt.Errorf("%q in the key statement is not an option", firstWords(o))
		}
		val := strings.Trim(om[2], `"`)
		switch om[1] {
		case "algorithm":
			a, ok := tsigAlgorithms[strings.ToLower(strings.TrimSuffix(val, "."))]
			if !ok {
				return nil, fmt.Errorf("algorithm %q is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", val)
			}
			k.algorithm = a
		case "secret":
			if b, err := base64.StdEncoding.DecodeString(val); err != nil || len(b) == 0 {
				return nil, errors.New("the secret is not base64")
			}
			k.secret = val
		default:
			return nil, fmt.Errorf("unknown option %q in the key statement", om[1])
		}
	}
	switch {
	case k.algorithm == "":
		return nil, fmt.Errorf("key %q has no algorithm", k.name)
	case k.secret == "":
		return nil, fmt.Errorf("key %q has no secret", k.name)
	}
	return k, nil
}

// firstWords shortens text quoted in an error.
func firstWords(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}
