package probe

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"

	"github.com/certinit/certinit/embed"
	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/safetext"
	"github.com/certinit/certinit/verify"
)

// Report is everything a probe learned, in the form --json prints.
type Report struct {
	Address    string `json:"address"`               // host:port probed
	ServerName string `json:"server_name,omitempty"` // SNI sent and name verified
	RemoteAddr string `json:"remote_addr,omitempty"` // the IP address connected to
	Trust      string `json:"trust"`                 // what the chain was verified against

	TLSVersion   string     `json:"tls_version,omitempty"`
	CipherSuite  string     `json:"cipher_suite,omitempty"`
	Certificates []CertInfo `json:"certificates"` // as the server sent them, leaf first

	ClientCertRequested bool     `json:"client_cert_requested"`
	AcceptableCAs       []string `json:"acceptable_cas,omitempty"` // CA names the server accepts for client certificates
	ClientCertSent      bool     `json:"client_cert_sent"`

	Alert *Alert `json:"alert,omitempty"` // the alert that ended the handshake
	Error string `json:"error,omitempty"` // the low-level error, when one ended the probe

	VerifiedChain []CertInfo    `json:"verified_chain,omitempty"` // leaf to the trusted root, when OpenSSL builds that chain
	OpenSSLError  *OpenSSLError `json:"openssl_error,omitempty"`  // where OpenSSL's verification of the chain stops
	MQTT          *MQTTResult   `json:"mqtt,omitempty"`
	Saved         []string      `json:"saved,omitempty"` // the files of SaveDir that hold the chain

	Diagnosis []string `json:"diagnosis"`
	Verdict   Verdict  `json:"verdict"`
}

// OpenSSLError is the first error OpenSSL's verification of the server's
// chain meets (package verify), as Mosquitto's clients and `openssl
// s_client -verify_return_error` report it: X509_V_ERR code, depth in the
// chain (0: the server's own certificate) and text. The server's name is
// checked apart from it.
type OpenSSLError struct {
	Code    int    `json:"code"`
	Depth   int    `json:"depth"`
	Text    string `json:"text"`
	Subject string `json:"subject"` // of the certificate at that depth
}

// Alert is a TLS alert.
type Alert struct {
	Code   uint8  `json:"code"`
	Name   string `json:"name"`    // RFC 8446 name, e.g. "unknown_ca"
	SentBy string `json:"sent_by"` // "server" or "certinit"
}

// MQTTResult is the outcome of --mqtt.
type MQTTResult struct {
	ClientID   string `json:"client_id"`
	Accepted   bool   `json:"accepted"`
	ReturnCode *byte  `json:"return_code,omitempty"` // absent when no CONNACK arrived
	Meaning    string `json:"meaning"`
}

// CertInfo describes one certificate.
type CertInfo struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	IPAddresses []string  `json:"ip_addresses,omitempty"`
	Emails      []string  `json:"emails,omitempty"`
	URIs        []string  `json:"uris,omitempty"`
	KeyType     string    `json:"key_type"` // RSA, ECDSA, Ed25519
	KeyBits     int       `json:"key_bits,omitempty"`
	Key         string    `json:"key"`                    // "RSA 2048", "ECDSA P-256"
	IsCA        bool      `json:"is_ca"`                  // as OpenSSL decides it (verify.IsCA)
	SelfSigned  bool      `json:"self_signed"`            // as OpenSSL decides it (verify.SelfSigned)
	SubjectHash string    `json:"subject_hash,omitempty"` // openssl x509 -subject_hash
	SHA256      string    `json:"sha256"`                 // openssl x509 -fingerprint -sha256
	AIAIssuers  []string  `json:"aia_issuers,omitempty"`  // caIssuers URLs
}

// describe builds a CertInfo.
func describe(c *x509.Certificate) CertInfo {
	sum := sha256.Sum256(c.Raw)
	ci := CertInfo{
		Subject:    dn(c.RawSubject, c.Subject),
		Issuer:     dn(c.RawIssuer, c.Issuer),
		Serial:     c.SerialNumber.Text(16),
		NotBefore:  c.NotBefore.UTC(),
		NotAfter:   c.NotAfter.UTC(),
		DNSNames:   c.DNSNames,
		Emails:     c.EmailAddresses,
		Key:        pemfile.KeyDescription(c.PublicKey),
		IsCA:       verify.IsCA(c),
		SelfSigned: verify.SelfSigned(c),
		SHA256:     embed.Fingerprint(sum[:]),
		AIAIssuers: c.IssuingCertificateURL,
	}
	for _, ip := range c.IPAddresses {
		ci.IPAddresses = append(ci.IPAddresses, ip.String())
	}
	for _, u := range c.URIs {
		ci.URIs = append(ci.URIs, u.String())
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		ci.KeyType, ci.KeyBits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		ci.KeyType, ci.KeyBits = "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		ci.KeyType, ci.KeyBits = "Ed25519", 256
	default:
		ci.KeyType = c.PublicKeyAlgorithm.String()
	}
	if h, err := hashlink.NameHash(c.RawSubject); err == nil {
		ci.SubjectHash = hashlink.FormatHash(h)
	}
	return ci
}

func describeAll(certs []*x509.Certificate) []CertInfo {
	out := make([]CertInfo, 0, len(certs))
	for _, c := range certs {
		out = append(out, describe(c))
	}
	return out
}

// dn formats a distinguished name in RFC 4514 order (as crypto/x509 does),
// with characters that are not printable escaped (safetext.Name); a name
// crypto/x509 could not decode falls back to the raw sequence.
func dn(raw []byte, parsed pkix.Name) string {
	if s := parsed.String(); s != "" {
		return safetext.Name(s)
	}
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err == nil {
		return safetext.Name(seq.String())
	}
	return "(empty name)"
}

// shortName is the common name, or the whole name (dn) when it has none.
// The common name is as the certificate holds it: messages quote it with
// %q.
func shortName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return dn(c.RawSubject, c.Subject)
}
