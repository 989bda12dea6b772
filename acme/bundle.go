package acme

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
)

// A bundle is how a certificate sits in the cache: the private key's PEM
// block followed by the chain, leaf first. Both issuers use it, and it is
// the format autocert used, so a cache an earlier certinit wrote through
// autocert is read.
type bundle struct {
	key   crypto.Signer
	chain []*x509.Certificate // leaf first
}

func (b *bundle) leaf() *x509.Certificate { return b.chain[0] }

// parseBundle reads a cached bundle.
func parseBundle(data []byte) (*bundle, error) {
	blocks, err := pemfile.Parse(data)
	if err != nil {
		return nil, err
	}
	b := &bundle{}
	for _, blk := range blocks {
		switch blk.Kind {
		case pemfile.KindKey:
			if b.key != nil {
				return nil, errors.New("more than one private key")
			}
			if b.key, err = pemfile.ParseKey(blk.DER); err != nil {
				return nil, err
			}
		case pemfile.KindCert:
			c, err := x509.ParseCertificate(blk.DER)
			if err != nil {
				return nil, fmt.Errorf("certificate %d: %w", len(b.chain)+1, err)
			}
			b.chain = append(b.chain, c)
		}
	}
	if b.key == nil || len(b.chain) == 0 {
		return nil, errors.New("no private key or no certificate")
	}
	return b, nil
}

// encode writes the bundle in the cache format.
func (b *bundle) encode() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(b.key)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	buf.Write(pemfile.EncodeCerts(b.chain...))
	return buf.Bytes(), nil
}

// check reports why the bundle cannot serve names with a key of type kt at
// now, or nil when it can.
func (b *bundle) check(names []string, kt KeyType, now time.Time) error {
	leaf := b.leaf()
	if !pemfile.KeyMatches(leaf, b.key) {
		return errors.New("key does not match certificate")
	}
	if keyTypeOf(b.key) != kt {
		return fmt.Errorf("key is %s, want %s", pemfile.KeyDescription(b.key.Public()), kt)
	}
	// A NotBefore in the future means this clock is behind the CA's; a
	// new certificate would not fix that, so it is not a reason to order.
	if !now.Before(leaf.NotAfter) {
		return fmt.Errorf("expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if !sameNames(leaf, names) {
		return fmt.Errorf("certifies %v, want %v", certNames(leaf), names)
	}
	return nil
}

func keyTypeOf(k crypto.Signer) KeyType {
	switch k.(type) {
	case *rsa.PrivateKey:
		return KeyRSA
	case *ecdsa.PrivateKey:
		return KeyECDSA
	}
	return ""
}

// certNames lists the DNS names and IP addresses a certificate holds.
func certNames(c *x509.Certificate) []string {
	out := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// sameNames reports whether the certificate holds exactly names.
func sameNames(c *x509.Certificate, names []string) bool {
	have := certNames(c)
	want := slices.Clone(names)
	for i, n := range want {
		if ip := net.ParseIP(n); ip != nil {
			want[i] = ip.String()
		}
	}
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(have, want)
}
