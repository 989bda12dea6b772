// Package pemfile reads certificates, CRLs and private keys from PEM or DER
// files and checks key pairs. It is the one place certinit turns bytes on disk
// into objects, so every command reports bad input the same way: one error
// that names the file and the problem. A file in a container format it does
// not read (PKCS#7, PKCS#12) is named as such, with the openssl command
// that converts it (container.go).
//
// It does not verify chains or decide trust (truststore and probe do), and it
// does not hash names (hashlink parses names itself, to hash what OpenSSL
// hashes even where crypto/x509 refuses a certificate).
package pemfile

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/certinit/certinit/internal/userfile"
)

// MaxFileSize bounds how much of one input file is read. A trust bundle with
// every public root is about 200 KiB; 64 MiB leaves room for very large CRLs
// while keeping a mistaken multi-gigabyte file from exhausting memory.
const MaxFileSize = 64 << 20

// Kind classifies one object found in a file.
type Kind int

// Kinds of objects.
const (
	KindCert Kind = iota
	KindCRL
	KindKey
	KindOther
)

// Block is one DER object found in a file, with its kind.
type Block struct {
	Kind Kind
	Type string // PEM type, or "DER" for a raw DER file
	DER  []byte
}

// CertDER returns the certificate in a certificate block. A TRUSTED
// CERTIFICATE block (OpenSSL's aux-trust form) carries its trust settings
// after the certificate; they are left out. DER that does not start with
// one element is returned whole, for the certificate parser to refuse.
func (b Block) CertDER() []byte {
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(b.DER, &v); err != nil {
		return b.DER
	}
	return v.FullBytes
}

// ErrNoObjects means the file held no PEM block and was not DER either (nor
// a container format that Container names).
var ErrNoObjects = errors.New("not a certificate, CRL or key: not PEM and not DER")

// ReadFile reads a file a user named or certinit found, through the one
// guarded reader (internal/userfile): opened without blocking, regular
// files only, at most MaxFileSize. The error names the file once.
func ReadFile(path string) ([]byte, error) {
	return userfile.Read(path, MaxFileSize)
}

// kindOf maps PEM types to kinds.
var kindOf = map[string]Kind{
	"CERTIFICATE":           KindCert,
	"TRUSTED CERTIFICATE":   KindCert, // OpenSSL's aux-trust form: DER cert followed by aux data
	"X509 CERTIFICATE":      KindCert,
	"X509 CRL":              KindCRL,
	"PRIVATE KEY":           KindKey,
	"RSA PRIVATE KEY":       KindKey,
	"EC PRIVATE KEY":        KindKey,
	"ENCRYPTED PRIVATE KEY": KindKey,
}

// Parse splits data into blocks. PEM input yields every PEM block in order
// (text between blocks is ignored, as OpenSSL does); input with no PEM block is
// taken as a single DER object, classified by a light structural check. A PEM
// block whose base64 is corrupt is an error, not silently skipped.
func Parse(data []byte) ([]Block, error) {
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		var out []Block
		rest := data
		for {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			k, ok := kindOf[b.Type]
			if !ok {
				k = KindOther
			}
			out = append(out, Block{Kind: k, Type: b.Type, DER: b.Bytes})
		}
		if len(out) == 0 {
			return nil, errors.New("malformed PEM: a BEGIN line without a decodable block")
		}
		if bytes.Contains(rest, []byte("-----BEGIN ")) {
			return out, errors.New("malformed PEM: truncated or corrupt block after the last good one")
		}
		return out, nil
	}
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	if _, err := x509.ParseCertificate(data); err == nil {
		return []Block{{Kind: KindCert, Type: "DER", DER: data}}, nil
	}
	if _, err := x509.ParseRevocationList(data); err == nil {
		return []Block{{Kind: KindCRL, Type: "DER", DER: data}}, nil
	}
	if _, err := ParseKey(data); err == nil {
		return []Block{{Kind: KindKey, Type: "DER", DER: data}}, nil
	}
	if f := Container(data); f != nil {
		return nil, f
	}
	return nil, ErrNoObjects
}

// Certificates parses every certificate in data (PEM bundle or one DER).
// Non-certificate blocks are ignored; no certificate at all is an error.
func Certificates(data []byte) ([]*x509.Certificate, error) {
	blocks, err := Parse(data)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for i, b := range blocks {
		if b.Kind != KindCert {
			continue
		}
		c, err := x509.ParseCertificate(b.DER)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if f := Container(data); f != nil {
			return nil, f
		}
		return nil, errors.New("no certificate in file")
	}
	return certs, nil
}

// ReadCertificates reads and parses every certificate in a file; errors name
// the file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := Certificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// ParseKey parses a PKCS#8, PKCS#1 or SEC1 private key in DER.
func ParseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("unsupported private key type")
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, PKCS#1 or EC private key")
}

// ReadKey reads the first private key in a file (PEM or DER).
func ReadKey(path string) (crypto.Signer, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := Key(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Key parses the first private key in data (PEM or DER).
func Key(data []byte) (crypto.Signer, error) {
	blocks, err := Parse(data)
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		if b.Kind != KindKey {
			continue
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("private key is encrypted; certinit needs an unencrypted key")
		}
		return ParseKey(b.DER)
	}
	if f := Container(data); f != nil {
		return nil, f
	}
	return nil, errors.New("no private key in file")
}

// KeyMatches reports whether priv is the private half of the certificate's
// public key.
func KeyMatches(cert *x509.Certificate, priv crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := priv.Public().(equaler)
	return ok && pub.Equal(cert.PublicKey)
}

// Pair is a loaded certificate chain with its key.
type Pair struct {
	Chain []*x509.Certificate // leaf first
	Key   crypto.Signer
	TLS   tls.Certificate
}

// Why LoadPair refuses a pair that parses; its errors wrap one of these.
var (
	ErrKeyMismatch = errors.New("key does not match certificate")
	ErrExpired     = errors.New("certificate expired")
	ErrNotYetValid = errors.New("certificate not valid before")
)

// LoadPair loads a certificate file (leaf first, optional chain after it) and
// a key file and checks them as ParsePair does. The error names the file
// at fault.
func LoadPair(certPath, keyPath string, now time.Time) (*Pair, error) {
	certData, err := ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyData, err := ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	return ParsePair(certPath, certData, keyPath, keyData, now)
}

// ParsePair parses the contents of a certificate file (leaf first,
// optional chain after it) and of a key file, and checks what a TLS server
// checks when it loads them: both parse, the key matches the leaf (else
// ErrKeyMismatch), and the leaf is valid at now (else ErrExpired or
// ErrNotYetValid). The paths are where the bytes came from: the error
// names the file at fault.
func ParsePair(certPath string, certData []byte, keyPath string, keyData []byte, now time.Time) (*Pair, error) {
	certs, err := Certificates(certData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	key, err := Key(keyData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	leaf := certs[0]
	if !KeyMatches(leaf, key) {
		return nil, fmt.Errorf("%s: %w %s", keyPath, ErrKeyMismatch, certPath)
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%s: %w at %s", certPath, ErrExpired, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("%s: %w %s", certPath, ErrNotYetValid, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	tc := tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, c := range certs {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return &Pair{Chain: certs, Key: key, TLS: tc}, nil
}

// KeyDescription says "RSA 2048", "ECDSA P-256" or "Ed25519" for a public key.
func KeyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// EncodeCerts returns the PEM encoding of certs, one block each.
func EncodeCerts(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}
