// Command gencorpus writes the hard-subject corpus: certificates (and a few
// CRLs) whose names exercise every rule of OpenSSL's name canonicalisation,
// including names crypto/x509 refuses and names OpenSSL itself refuses.
// testdata/gen.sh runs it, then records what the real openssl prints for
// each file in testdata/golden.txt.
//
//	go run ./hashlink/testdata/gencorpus -out hashlink/testdata/corpus
package main

import (
	"encoding/asn1"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
)

type sample struct {
	file   string
	name   []byte
	crl    bool
	serial int64
}

func utf8(oid asn1.ObjectIdentifier, s string) cg.RDN { return cg.Simple(oid, cg.TagUTF8String, s) }
func prt(oid asn1.ObjectIdentifier, s string) cg.RDN  { return cg.Simple(oid, cg.TagPrintableString, s) }
func raw(oid asn1.ObjectIdentifier, tlv ...byte) cg.RDN {
	return cg.RDN{{OID: oid, Raw: tlv}}
}
func typed(tag int, v []byte) cg.RDN {
	return cg.RDN{{OID: cg.OIDCommonName, Tag: tag, Value: v}}
}

var cn, o, ou, c = cg.OIDCommonName, cg.OIDOrganization, cg.OIDOrgUnit, cg.OIDCountry

func samples() []sample {
	base := []cg.RDN{prt(c, "US"), utf8(o, "Example Org"), utf8(cn, "Example Root CA")}
	long := strings.Repeat("Long Subject ", 800)
	var many []cg.RDN
	for i := range 150 {
		many = append(many, utf8(ou, fmt.Sprintf("Unit %d", i)))
	}
	s := []sample{
		{file: "plain", name: cg.Name(base...)},
		{file: "case-upper", name: cg.Name(prt(c, "US"), utf8(o, "EXAMPLE ORG"), utf8(cn, "EXAMPLE ROOT CA"))},
		{file: "case-mixed", name: cg.Name(prt(c, "us"), utf8(o, "eXaMpLe OrG"), utf8(cn, "example root ca"))},
		{file: "space-runs", name: cg.Name(prt(c, " US"), utf8(o, "  Example \t\n Org  "), utf8(cn, "Example   Root\r\nCA\v"))},
		{file: "space-ff-vt", name: cg.Name(utf8(cn, "\f\vExample\f\fRoot\tCA\n"))},
		{file: "space-only", name: cg.Name(utf8(cn, " \t "))},
		{file: "empty-value", name: cg.Name(utf8(cn, ""))},
		{file: "nbsp", name: cg.Name(utf8(cn, "Example\u00a0Root CA"))},
		{file: "type-printable", name: cg.Name(typed(cg.TagPrintableString, []byte("Type Test")))},
		{file: "type-utf8", name: cg.Name(typed(cg.TagUTF8String, []byte("Type Test")))},
		{file: "type-t61", name: cg.Name(typed(cg.TagT61String, []byte("Type Test")))},
		{file: "type-ia5", name: cg.Name(typed(cg.TagIA5String, []byte("Type Test")))},
		{file: "type-bmp", name: cg.Name(typed(cg.TagBMPString, cg.BMP("Type Test")))},
		{file: "type-universal", name: cg.Name(typed(cg.TagUniversalString, cg.Universal("Type Test")))},
		{file: "type-numeric", name: cg.Name(typed(cg.TagNumericString, []byte("12  34")))},
		{file: "type-numeric-letters", name: cg.Name(typed(cg.TagNumericString, []byte("Not Numeric")))},
		{file: "type-bitstring", name: cg.Name(typed(cg.TagBitString, []byte{3, 0xa5, 0xff}))},
		{file: "type-bitstring-empty", name: cg.Name(typed(cg.TagBitString, []byte{5}))},
		{file: "type-sequence", name: cg.Name(raw(cn, 0x30, 0x05, 0x0c, 0x03, 'A', ' ', 'B'))},
		{file: "type-tag29", name: cg.Name(typed(29, []byte("Odd Tag")))},
		{file: "type-tag7", name: cg.Name(typed(7, []byte("Object Descriptor")))},
		{file: "utf8-latin", name: cg.Name(utf8(cn, "Zürich ÄRGER Straße"))},
		{file: "t61-latin1", name: cg.Name(typed(cg.TagT61String, cg.Latin1("Zürich ÄRGER")))},
		{file: "bmp-latin", name: cg.Name(typed(cg.TagBMPString, cg.BMP("Zürich ÄRGER")))},
		{file: "universal-latin", name: cg.Name(typed(cg.TagUniversalString, cg.Universal("Zürich ÄRGER")))},
		{file: "utf8-cjk", name: cg.Name(utf8(cn, "中国 认证 机构"), utf8(o, "日本の認証局"))},
		{file: "bmp-cjk", name: cg.Name(typed(cg.TagBMPString, cg.BMP("中国 认证 机构")))},
		{file: "utf8-emoji", name: cg.Name(utf8(cn, "  🔒 Lock CA  "))},
		{file: "universal-emoji", name: cg.Name(typed(cg.TagUniversalString, cg.Universal("  🔒 Lock CA  ")))},
		{file: "utf8-greek-turkish", name: cg.Name(utf8(cn, "ΣΑΣ İSTANBUL ıi"))},
		{file: "ia5-high-byte", name: cg.Name(typed(cg.TagIA5String, cg.Latin1("café CA")))},
		{file: "printable-at-underscore", name: cg.Name(prt(cn, "user_name@Example"))},
		{file: "email-ia5", name: cg.Name(utf8(cn, "Mail CA"), cg.Simple(cg.OIDEmail, cg.TagIA5String, "Admin@Example.COM"))},
		{file: "domain-components", name: cg.Name(cg.Simple(cg.OIDDomainComp, cg.TagIA5String, "COM"), cg.Simple(cg.OIDDomainComp, cg.TagIA5String, "Example"), utf8(cn, "DC CA"))},
		{file: "multi-rdn-ab", name: cg.Name(prt(c, "DE"), cg.RDN{{OID: cn, Tag: cg.TagUTF8String, Value: []byte("Multi")}, {OID: o, Tag: cg.TagUTF8String, Value: []byte("Valued")}})},
		{file: "multi-rdn-ba", name: cg.Name(prt(c, "DE"), cg.RDN{{OID: o, Tag: cg.TagUTF8String, Value: []byte("Valued")}, {OID: cn, Tag: cg.TagUTF8String, Value: []byte("Multi")}})},
		{file: "multi-rdn-case", name: cg.Name(prt(c, "DE"), cg.RDN{{OID: o, Tag: cg.TagPrintableString, Value: []byte("VALUED")}, {OID: cn, Tag: cg.TagBMPString, Value: cg.BMP("multi")}})},
		{file: "multi-rdn-same-type", name: cg.Name(cg.RDN{{OID: ou, Tag: cg.TagUTF8String, Value: []byte("zeta")}, {OID: ou, Tag: cg.TagUTF8String, Value: []byte("Alpha")}, {OID: ou, Tag: cg.TagUTF8String, Value: []byte("alpha long")}})},
		{file: "repeated-attrs", name: cg.Name(utf8(ou, "A"), utf8(ou, "B"), utf8(ou, "A"), utf8(cn, "Repeat"))},
		{file: "unknown-oid", name: cg.Name(cg.Simple(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 2}, cg.TagUTF8String, "Private Attr"), utf8(cn, "Unknown OID"))},
		{file: "unknown-oid-bigarc", name: cg.Name(cg.Simple(asn1.ObjectIdentifier{2, 999, 1 << 40, 7}, cg.TagPrintableString, "Big Arc"))},
		{file: "empty-subject", name: cg.Name()},
		{file: "empty-set", name: cg.Name(cg.RDN{})},
		{file: "empty-set-then-cn", name: cg.Name(cg.RDN{}, utf8(cn, "After Empty"))},
		{file: "very-long-cn", name: cg.Name(utf8(cn, long))},
		{file: "many-rdns", name: cg.Name(many...)},
		{file: "nonminimal-length", name: cg.Name(raw(cn, 0x0c, 0x81, 0x05, 'S', 'h', 'O', 'R', 't'))},
		{file: "nonminimal-length-zeros", name: cg.Name(raw(cn, 0x13, 0x83, 0x00, 0x00, 0x04, 'L', 'O', 'N', 'G'))},
		{file: "constructed-utf8", name: cg.Name(raw(cn, 0x2c, 0x0a, 0x0c, 0x03, 'A', 'B', ' ', 0x04, 0x03, ' ', 'C', 'd'))},
		{file: "nonminimal-name-header", name: nonMinimalName()},
		{file: "negative-serial", name: cg.Name(utf8(cn, "Negative Serial")), serial: -42},
		// OpenSSL refuses these certificates; certinit must refuse them too.
		{file: "bad-visiblestring", name: cg.Name(typed(cg.TagVisibleString, []byte("Visible")))},
		{file: "bad-octetstring", name: cg.Name(typed(cg.TagOctetString, []byte("Octets")))},
		{file: "bad-utctime", name: cg.Name(typed(cg.TagUTCTime, []byte("250101000000Z")))},
		{file: "bad-utf8", name: cg.Name(typed(cg.TagUTF8String, []byte{'a', 0xc3, 0x28}))},
		{file: "bad-utf8-surrogate", name: cg.Name(typed(cg.TagUTF8String, []byte{0xed, 0xa0, 0x80}))},
		{file: "bad-bmp-odd", name: cg.Name(typed(cg.TagBMPString, []byte{0, 'a', 0}))},
		{file: "bad-bmp-surrogate-pair", name: cg.Name(typed(cg.TagBMPString, cg.BMP("🔒")))},
		{file: "bad-universal-range", name: cg.Name(typed(cg.TagUniversalString, []byte{0, 0x11, 0, 0}))},
		{file: "bad-bitstring-unused", name: cg.Name(typed(cg.TagBitString, []byte{8, 0xff}))},
		{file: "bad-oid", name: badOIDName()},
		// CRLs: the issuer hash.
		{file: "crl-plain", name: cg.Name(base...), crl: true},
		{file: "crl-bmp", name: cg.Name(typed(cg.TagBMPString, cg.BMP("  CRL Issuer  "))), crl: true},
	}
	return s
}

// nonMinimalName is "CN=Header" with the Name's own length in long form.
func nonMinimalName() []byte {
	n := cg.Name(utf8(cn, "Header"))
	return append([]byte{0x30, 0x82, 0x00, n[1]}, n[2:]...)
}

// badOIDName has an attribute whose OID starts with a non-minimal
// sub-identifier (0x80), which OpenSSL's decoder refuses.
func badOIDName() []byte {
	return []byte{0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x80, 0x55, 0x03, 0x0c, 0x02, 'o', 'k'}
}

func main() {
	out := flag.String("out", "corpus", "directory to write the corpus into")
	fuzz := flag.String("fuzz", "", "also write each Name as a seed of FuzzNameHash into this directory")
	flag.Parse()
	if err := run(*out, *fuzz); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
}

func run(out, fuzz string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	signer, err := cg.NewSigner()
	if err != nil {
		return err
	}
	for i, s := range samples() {
		name := s.name
		var der []byte
		typ := "CERTIFICATE"
		if s.crl {
			typ = "X509 CRL"
			der, err = signer.CRL(name)
		} else {
			serial := s.serial
			if serial == 0 {
				serial = int64(1000 + i)
			}
			der, err = signer.Certificate(cg.Cert{Subject: name, Serial: serial, IsCA: true})
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.file, err)
		}
		if fuzz != "" {
			if err := writeSeed(fuzz, s.file, name); err != nil {
				return err
			}
		}
		path := filepath.Join(out, fmt.Sprintf("%02d-%s.pem", i, s.file))
		if err := os.WriteFile(path, cg.PEM(typ, der), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeSeed writes one seed in the format of `go test -fuzz` corpora.
func writeSeed(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	return os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
}
