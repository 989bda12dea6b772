package truststore

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
)

// Cert describes one certificate in a store.
type Cert struct {
	Name        string    `json:"name"`      // stable name: the source file's name without extension
	Subject     string    `json:"subject"`   // RFC 2253 subject
	Hash        string    `json:"hash"`      // OpenSSL subject hash, 8 hex digits
	NotAfter    time.Time `json:"not_after"` // expiry
	Fingerprint string    `json:"sha256"`    // SHA-256 of the DER, hex
	Source      string    `json:"source"`    // in-root path of the file it comes from
	Local       bool      `json:"local"`     // installed locally (certinit or the administrator), not by the distribution
	Expired     bool      `json:"expired,omitempty"`
	cert        *x509.Certificate
}

func newCert(c *x509.Certificate, source string, local bool, now time.Time) Cert {
	out := Cert{
		Name:        stableName(c),
		Subject:     c.Subject.String(),
		NotAfter:    c.NotAfter.UTC(),
		Fingerprint: fingerprint(c.Raw),
		Source:      source,
		Local:       local,
		Expired:     now.After(c.NotAfter),
		cert:        c,
	}
	if h, err := hashlink.SubjectHash(c.Raw); err == nil {
		out.Hash = fmt.Sprintf("%08x", h)
	}
	return out
}

func fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// stableName derives a file name from a certificate: its common name (or
// organisation) reduced to letters, digits, '.', '-' and '_', then '-' and
// the first 8 hex digits of its SHA-256 fingerprint. The same certificate
// always gets the same name (a second install is a no-op, remove finds it),
// and the suffix keeps it from colliding with the distribution's files
// (Mozilla's ISRG_Root_X1.crt) in /etc/ssl/certs, where both get a
// NAME.pem link.
func stableName(c *x509.Certificate) string {
	base := c.Subject.CommonName
	if base == "" && len(c.Subject.Organization) > 0 {
		base = c.Subject.Organization[0]
	}
	if base == "" && len(c.Subject.OrganizationalUnit) > 0 {
		base = c.Subject.OrganizationalUnit[0]
	}
	var b strings.Builder
	under := false
	for _, r := range base {
		ok := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
		if !ok || r == '_' {
			if !under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = true
			continue
		}
		b.WriteRune(r)
		under = false
	}
	name := strings.Trim(b.String(), "_.-")
	if len(name) > 48 {
		name = strings.TrimRight(name[:48], "_.-")
	}
	if name == "" {
		name = "ca"
	}
	return name + "-" + fingerprint(c.Raw)[:8]
}

// InstallOptions control Install.
type InstallOptions struct {
	// AllowNonCA accepts certificates that are neither CA certificates nor
	// self-signed (a server certificate pinned as a trust anchor).
	AllowNonCA bool
	// MozillaRoots adds the Mozilla root set embedded in the binary.
	MozillaRoots bool
}

// errNotCA is wrapped by the error for a leaf certificate given to install.
var errNotCA = errors.New("not a CA certificate")

// readInput reads one input file and checks every certificate in it. The
// error names the file and says what to do instead.
func readInput(path string, opts InstallOptions) ([]byte, []*x509.Certificate, error) {
	data, err := pemfile.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	blocks, err := pemfile.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var certs []*x509.Certificate
	for i, b := range blocks {
		switch b.Kind {
		case pemfile.KindKey:
			return nil, nil, fmt.Errorf("%s: contains a private key; give certinit only CA certificates, and keep the key out of the trust store", path)
		case pemfile.KindCRL:
			return nil, nil, fmt.Errorf("%s: contains a CRL, not a certificate; a trust store holds CA certificates only", path)
		case pemfile.KindOther:
			return nil, nil, fmt.Errorf("%s: block %d is a %q PEM block, not a certificate", path, i+1, b.Type)
		}
		c, err := x509.ParseCertificate(firstTLV(b.DER))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: certificate %d: %w", path, i+1, err)
		}
		if !opts.AllowNonCA && !isCA(c) {
			return nil, nil, fmt.Errorf("%s: certificate %d (%s) is %w and not self-signed: it looks like a server or client certificate. Install the CA chain that issued it instead (chain.pem, not cert.pem), or pass --allow-non-ca to trust this certificate itself", path, i+1, c.Subject, errNotCA)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("%s: no certificate in file", path)
	}
	return data, certs, nil
}

// isCA: basicConstraints CA:TRUE, or self-signed (a v1 root has no
// extensions at all).
func isCA(c *x509.Certificate) bool {
	if c.BasicConstraintsValid && c.IsCA {
		return true
	}
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// firstTLV returns the first DER element of b (a TRUSTED CERTIFICATE block
// carries OpenSSL's trust settings after the certificate), or b when it
// does not start with one. It reads the header as encoding/asn1 does
// (FuzzFirstTLV holds it to that) without asn1's allocations: it runs for
// every certificate of a store.
func firstTLV(b []byte) []byte {
	// Tag (low form), then the length in DER's short or long form.
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return b
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return b
		}
		if b[2] == 0 {
			return b // not minimal, as encoding/asn1 refuses
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if n < 0x80 {
			return b // the short form was due
		}
		hdr += k
	}
	if n < 0 || n > len(b)-hdr {
		return b
	}
	return b[:hdr+n]
}

// crlIssuer returns the DER of a CRL's issuer name.
func crlIssuer(der []byte) ([]byte, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	return crl.RawIssuer, nil
}

// parseCerts parses the certificates of a PEM or DER source file, skipping
// nothing: any error is reported.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	return certsOfBlocks(pemfile.Parse(data))
}

// lazyCerts is the certificates of blocks (what pemfile.Parse returned,
// with its error) for parsing later. Each must hold a subject that hashes,
// as openssl rehash needs; hi is hashBlocks of the same blocks, whose
// hash of a lone certificate is that check done already.
func lazyCerts(blocks []pemfile.Block, err error, hi hashInfo) ([]*srcCert, error) {
	if err != nil {
		return nil, err
	}
	var out []*srcCert
	for i, b := range blocks {
		if b.Kind != pemfile.KindCert {
			continue
		}
		der := firstTLV(b.DER)
		if hi.n == 1 && !hi.crl {
			if !hi.ok {
				return nil, fmt.Errorf("certificate %d: not a readable X.509 certificate", i+1)
			}
		} else if _, err := hashlink.SubjectHash(der); err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		out = append(out, &srcCert{Raw: der})
	}
	return out, nil
}

// certsOfBlocks is parseCerts after pemfile.Parse.
func certsOfBlocks(blocks []pemfile.Block, err error) ([]*x509.Certificate, error) {
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, b := range blocks {
		if b.Kind != pemfile.KindCert {
			continue
		}
		c, err := x509.ParseCertificate(firstTLV(b.DER))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
