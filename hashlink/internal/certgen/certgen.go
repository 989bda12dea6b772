// Package certgen builds X.509 certificates and CRLs whose names are given as
// raw DER, so tests, the corpus generator and the benchmark can produce names
// that crypto/x509 would never write (T61String, UniversalString, BIT STRING
// values, non-minimal lengths, multi-valued RDNs in any order) and feed them
// to the real openssl.
//
// It is for test and benchmark fixtures only: the certificates are signed for
// realism, but nothing about them is meant to be trusted.
package certgen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Signer signs the certificates and CRLs a Generator makes, and its public
// key is the subject key of every certificate (one key keeps generation fast).
type Signer struct {
	key  *ecdsa.PrivateKey
	spki []byte
}

// NewSigner makes a fresh P-256 signer.
func NewSigner() (*Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{key: k, spki: spki}, nil
}

var oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}

func (s *Signer) sign(tbs []byte) ([]byte, error) {
	d := sha256.Sum256(tbs)
	sig, err := s.key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		addAlg(b)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}

func addAlg(b *cryptobyte.Builder) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidECDSAWithSHA256)
	})
}

// Cert describes one certificate. Subject and Issuer are complete DER Names
// (SEQUENCE included), copied into the certificate byte for byte.
type Cert struct {
	Subject, Issuer []byte // Issuer defaults to Subject
	Serial          int64
	IsCA            bool
}

// Certificate returns the DER of a v3 certificate.
func (s *Signer) Certificate(c Cert) ([]byte, error) {
	issuer := c.Issuer
	if issuer == nil {
		issuer = c.Subject
	}
	now := time.Now().UTC().Truncate(time.Second)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1Int64(2)
		})
		b.AddASN1BigInt(big.NewInt(c.Serial))
		addAlg(b)
		b.AddBytes(issuer)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1UTCTime(now.Add(-time.Hour))
			b.AddASN1UTCTime(now.Add(10 * 365 * 24 * time.Hour))
		})
		b.AddBytes(c.Subject)
		b.AddBytes(s.spki)
		if c.IsCA {
			b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{2, 5, 29, 19})
						b.AddASN1Boolean(true)
						b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1Boolean(true)
							})
						})
					})
				})
			})
		}
	})
	tbs, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("build certificate: %w", err)
	}
	return s.sign(tbs)
}

// CRL returns the DER of an empty v2 CRL with the given issuer Name.
func (s *Signer) CRL(issuer []byte) ([]byte, error) {
	now := time.Now().UTC().Truncate(time.Second)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		addAlg(b)
		b.AddBytes(issuer)
		b.AddASN1UTCTime(now.Add(-time.Hour))
		b.AddASN1UTCTime(now.Add(30 * 24 * time.Hour))
	})
	tbs, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("build CRL: %w", err)
	}
	return s.sign(tbs)
}

// PEM wraps DER in a PEM block of the given type ("CERTIFICATE", "X509 CRL").
func PEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
