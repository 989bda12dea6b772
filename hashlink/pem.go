package hashlink

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/certinit/certinit/internal/pemfile"
)

// This file reads files the way `openssl rehash` does: PEM only, every
// block in order, as OpenSSL's PEM reader splits them.

// pemTypes maps the PEM labels OpenSSL's info reader acts on to what they
// hold. Labels ending in "PRIVATE KEY" are keys (matched separately); every
// other label is ignored, as OpenSSL ignores it.
var pemTypes = map[string]Kind{
	"CERTIFICATE":         Certificate,
	"X509 CERTIFICATE":    Certificate, // PEM_STRING_X509_OLD
	"TRUSTED CERTIFICATE": Certificate, // OpenSSL's cert + trust settings ("aux")
	"X509 CRL":            CRL,
}

// Classify says what `openssl rehash` makes of a candidate file holding
// data (do_file): the certificate or CRL to link to when the file holds
// exactly one, in PEM; otherwise an error saying why the file gets no link.
// OpenSSL reads such files with PEM_X509_INFO_read_bio, which groups the
// blocks into "infos" of at most one certificate, one CRL and one private
// key each, and links a file only when it makes exactly one info. Other
// PEM blocks are ignored. A certificate or CRL block that does not decode,
// or a corrupt PEM block anywhere, makes OpenSSL drop the whole file. DER
// is never linked: OpenSSL's capath lookup reads PEM only.
func Classify(data []byte) (*Object, error) {
	infos, err := readInfos(data, 2)
	switch {
	case err != nil:
		return nil, fmt.Errorf("OpenSSL cannot load it: %w", err)
	case len(infos) == 0 && !bytes.Contains(data, beginMarker):
		return nil, notPEM(data)
	case len(infos) == 0:
		if f := pemfile.Container(data); f != nil {
			return nil, f
		}
		return nil, errors.New("no certificate or CRL in it")
	case len(infos) > 1:
		return nil, errors.New("holds more than one certificate, CRL or key; split bundles into one file each")
	case infos[0].Cert != nil:
		return infos[0].Cert, nil // a certificate wins over a CRL in one info
	case infos[0].CRL != nil:
		return infos[0].CRL, nil
	}
	return nil, errors.New("holds a private key but no certificate or CRL")
}

// Why Classify gives a file without a PEM block no link (errors.Is):
// ErrPEMOnly for a DER certificate or CRL, which OpenSSL would load but
// its capath lookup does not read; ErrNotCertificate for anything that is
// neither. A PKCS#7 or PKCS#12 file gives a *pemfile.FormatError instead.
var (
	ErrPEMOnly        = errors.New("capath lookups read PEM only")
	ErrNotCertificate = errors.New("not a certificate or CRL")
)

// notPEM says why a file without a PEM block gets no link: a link to a DER
// certificate or CRL would end OpenSSL's capath lookup at a file it cannot
// read, a PKCS#7 or PKCS#12 file is named as such, anything else is not a
// certificate at all.
func notPEM(data []byte) error {
	if _, err := ParseCertificate(data); err == nil {
		return fmt.Errorf("a DER certificate, and %w, so it gets no link: `openssl x509 -inform DER -in FILE` prints it as PEM", ErrPEMOnly)
	}
	if _, err := ParseCRL(data); err == nil {
		return fmt.Errorf("a DER CRL, and %w, so it gets no link: `openssl crl -inform DER -in FILE` prints it as PEM", ErrPEMOnly)
	}
	if f := pemfile.Container(data); f != nil {
		return f
	}
	if len(data) == 0 {
		return fmt.Errorf("empty file, %w", ErrNotCertificate)
	}
	return fmt.Errorf("%w: not PEM and not DER", ErrNotCertificate)
}

var (
	beginMarker = []byte("-----BEGIN ")
	endMarker   = []byte("-----END ")
	dashes      = []byte("-----")
)

// nextPEM finds the next PEM block in data; ok is false when there is none.
// A BEGIN line without a matching END line, or a body that is not base64,
// is an error, as in OpenSSL.
func nextPEM(data []byte) (typ string, headers bool, der, rest []byte, ok bool, err error) {
	for {
		i := bytes.Index(data, beginMarker)
		if i < 0 {
			return "", false, nil, nil, false, nil
		}
		if i > 0 && data[i-1] != '\n' && data[i-1] != '\r' {
			data = data[i+len(beginMarker):]
			continue
		}
		line, after := cutLine(data[i:])
		line = trimRightSpace(line)
		if !bytes.HasSuffix(line, dashes) || len(line) < len(beginMarker)+len(dashes) {
			data = after
			continue
		}
		typ = string(line[len(beginMarker) : len(line)-len(dashes)])
		if strings.Contains(typ, "-----") || len(typ) > 64 {
			// Not a BEGIN line: a whole block on one line, or garbage.
			data = after
			continue
		}
		der, headers, rest, err = pemBody(after, typ)
		return typ, headers, der, rest, err == nil, err
	}
}

// pemBody reads the optional header section (lines after BEGIN up to a
// blank line, when the first contains a colon) and the base64 lines up to
// the END line of a block of type typ.
func pemBody(data []byte, typ string) (der []byte, headers bool, rest []byte, err error) {
	body := data // start of the base64 lines
	first := true
	for off := 0; ; first = false {
		if off >= len(data) {
			return nil, false, nil, fmt.Errorf("PEM %s block has no END line", typ)
		}
		line, after := cutLine(data[off:])
		next := len(data) - len(after)
		if after == nil {
			next = len(data)
		}
		line = trimRightSpace(line)
		switch {
		case bytes.HasPrefix(line, endMarker):
			if string(line) != "-----END "+typ+"-----" {
				return nil, false, nil, fmt.Errorf("PEM %s block ends with %q", typ, line)
			}
			der, err := decodeBase64(body[:len(body)-(len(data)-off)])
			if err != nil {
				return nil, false, nil, fmt.Errorf("PEM %s block: %w", typ, err)
			}
			return der, headers, data[next:], nil
		case first && bytes.IndexByte(line, ':') >= 0:
			headers = true
			// Skip the header lines up to and including the blank line.
			for next < len(data) {
				l, a := cutLine(data[next:])
				n := len(data) - len(a)
				if a == nil {
					n = len(data)
				}
				next = n
				if len(trimRightSpace(l)) == 0 {
					break
				}
			}
			body = data[next:]
		}
		off = next
	}
}

func decodeBase64(src []byte) ([]byte, error) {
	dst := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	n, err := base64.StdEncoding.Decode(dst, src) // skips '\r' and '\n'
	if err != nil {
		// Retry without any whitespace, which OpenSSL's decoder skips.
		stripped := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\v' || r == '\f' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, src)
		if n, err = base64.StdEncoding.Decode(dst, stripped); err != nil {
			return nil, errors.New("invalid base64")
		}
	}
	return dst[:n], nil
}

func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// trimRightSpace strips trailing whitespace and control characters, as
// OpenSSL's PEM reader does with each line.
func trimRightSpace(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] <= ' ' {
		b = b[:len(b)-1]
	}
	return b
}
