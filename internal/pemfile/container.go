package pemfile

import (
	"bytes"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
)

// This file recognises the container formats that certificates are often
// delivered in (a CA's .p7b download, a Windows .pfx export) but that
// certinit, like OpenSSL's capath lookup and Mosquitto's cafile, does not
// read: the message then names the format and the openssl command that
// turns it into the PEM certinit wants.

// FormatError says that a file holds certificates in a container format
// certinit does not read, and how to convert it.
type FormatError struct {
	Format  string // "PKCS#7 (DER)", "PKCS#7 (PEM)" or "PKCS#12"
	Convert string // an openssl command that prints the certificates as PEM; FILE stands for the file
	Key     string // for a format that can hold the key too, the command that prints it
}

func (e *FormatError) Error() string {
	msg := fmt.Sprintf("holds %s, not PEM or DER certificates: `%s` prints them as PEM", e.Format, e.Convert)
	if e.Key != "" {
		msg += fmt.Sprintf(", `%s` the key", e.Key)
	}
	return msg
}

// Object identifiers of the formats (RFC 2315 section 14, RFC 7292).
var (
	oidPKCS7     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7} // the arc of every PKCS#7 content type
	oidPKCS7Data = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidPKCS7Sig  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
)

// pkcs7PEMTypes are the PEM labels of PKCS#7 and CMS data: OpenSSL's, and
// RFC 7468's.
var pkcs7PEMTypes = map[string]bool{"PKCS7": true, "PKCS #7 SIGNED DATA": true, "CMS": true}

// contentInfo is PKCS#7's ContentInfo (RFC 2315 section 7).
type contentInfo struct {
	Type    asn1.ObjectIdentifier
	Content asn1.RawValue `asn1:"optional"`
}

// pfx is PKCS#12's PFX (RFC 7292 section 4).
type pfx struct {
	Version  int
	AuthSafe contentInfo
	MacData  asn1.RawValue `asn1:"optional"`
}

// Container reports the container format of data, or nil when data is not
// one it knows: DER-encoded PKCS#7 signed data (a .p7b or .p7c file) or a
// PKCS#12 file (.p12, .pfx), or PEM with a PKCS#7 block. It does not check
// whether data also holds something certinit reads; Parse and the readers
// built on it ask only once they found nothing else.
func Container(data []byte) *FormatError {
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				return nil
			}
			if pkcs7PEMTypes[b.Type] {
				return &FormatError{Format: "PKCS#7 (PEM)", Convert: "openssl pkcs7 -print_certs -in FILE"}
			}
		}
	}
	var ci contentInfo
	if _, err := asn1.Unmarshal(data, &ci); err == nil && isPKCS7(ci.Type) {
		return &FormatError{Format: "PKCS#7 (DER)", Convert: "openssl pkcs7 -inform DER -print_certs -in FILE"}
	}
	var p pfx
	if _, err := asn1.Unmarshal(data, &p); err == nil && p.Version == 3 &&
		(p.AuthSafe.Type.Equal(oidPKCS7Data) || p.AuthSafe.Type.Equal(oidPKCS7Sig)) {
		return &FormatError{Format: "PKCS#12", Convert: "openssl pkcs12 -in FILE -nokeys", Key: "openssl pkcs12 -in FILE -nocerts -noenc"}
	}
	return nil
}

// isPKCS7 reports whether oid is a PKCS#7 content type (1.2.840.113549.1.7.N).
func isPKCS7(oid asn1.ObjectIdentifier) bool {
	return len(oid) == len(oidPKCS7)+1 && oid[:len(oidPKCS7)].Equal(oidPKCS7)
}
