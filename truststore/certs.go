package truststore

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/safetext"
)

// Cert describes one certificate in a store.
type Cert struct {
	Name        string    `json:"name"`      // stable name: the source file's name without extension
	Subject     string    `json:"subject"`   // RFC 4514 subject, characters that are not printable escaped (safetext.Name)
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
		Subject:     subject(c),
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

// subject is c's subject for messages and listings: RFC 4514, with
// characters that are not printable escaped, so that a hostile name cannot
// forge a line of output.
func subject(c *x509.Certificate) string { return safetext.Name(c.Subject.String()) }

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

// parseCerts parses the certificates of a PEM or DER source file, skipping
// nothing: any error is reported.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	blocks, err := pemfile.Parse(data)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, b := range blocks {
		if b.Kind != pemfile.KindCert {
			continue
		}
		c, err := x509.ParseCertificate(b.CertDER())
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
