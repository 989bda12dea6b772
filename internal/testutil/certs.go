package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// The certificate factory: test CAs, the certificates they issue, their
// keys, and PEM for the files certinit reads.

// CA is a test certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertOpts shape a certificate made by NewCA or Issue.
type CertOpts struct {
	Subject   pkix.Name
	DNSNames  []string
	IPs       []net.IP
	NotBefore time.Time // default: an hour ago
	NotAfter  time.Time // default: a year from now
	IsCA      bool
	Key       crypto.Signer // the key certified; default: a fresh P-256 key
	CAIssuers []string      // URLs of the issuer's certificate (the AIA extension)
	// ExtKeyUsage replaces the default extended key usages: serverAuth and
	// clientAuth for a leaf, none for a CA.
	ExtKeyUsage []x509.ExtKeyUsage
}

// Localhost is CertOpts for a server on 127.0.0.1 that clients reach as
// localhost or by the address.
func Localhost() CertOpts {
	return CertOpts{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
}

var serial atomic.Int64

func init() { serial.Store(time.Now().UnixNano()) }

func nextSerial() *big.Int { return big.NewInt(serial.Add(1)) }

// NewKey makes a private key of kind "p256", "p384", "rsa" (2048 bits,
// what OpenSSL's default security level accepts) or "ed25519".
func NewKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("NewKey: unknown kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (o *CertOpts) template() *x509.Certificate {
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               o.Subject,
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPs,
		NotBefore:             nb,
		NotAfter:              na,
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
		IssuingCertificateURL: o.CAIssuers,
	}
	if o.IsCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if o.ExtKeyUsage != nil {
		tmpl.ExtKeyUsage = o.ExtKeyUsage
	}
	return tmpl
}

// key is the key o certifies.
func (o *CertOpts) key(t testing.TB) crypto.Signer {
	if o.Key != nil {
		return o.Key
	}
	return NewKey(t, "p256")
}

// NewCA makes a self-signed root CA with the given common name.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	o := CertOpts{Subject: pkix.Name{CommonName: cn, Organization: []string{"certinit test"}}, IsCA: true}
	key := o.key(t)
	tmpl := o.template()
	return &CA{Cert: CreateCertificate(t, tmpl, tmpl, key.Public(), key), Key: key}
}

// Issue signs a certificate for o and returns it with its key (o.Key, or
// a fresh one). Set o.IsCA for an intermediate.
func (ca *CA) Issue(t testing.TB, o CertOpts) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := o.key(t)
	return CreateCertificate(t, o.template(), ca.Cert, key.Public(), ca.Key), key
}

// Intermediate issues a sub-CA of ca.
func (ca *CA) Intermediate(t testing.TB, cn string) *CA {
	t.Helper()
	c, k := ca.Issue(t, CertOpts{Subject: pkix.Name{CommonName: cn}, IsCA: true})
	return &CA{Cert: c, Key: k}
}

// CreateCertificate signs tmpl for pub with signer, as parent (tmpl itself
// for a self-signed certificate), and parses the result: for certificates
// CertOpts cannot describe.
func CreateCertificate(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CertPEM encodes certificates as PEM.
func CertPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// CRL returns a PEM CRL of ca, valid from an hour ago for a day, that
// revokes the given certificates (none: an empty CRL).
func (ca *CA) CRL(t testing.TB, revoked ...*x509.Certificate) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: nextSerial(), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour)}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// KeyPEM encodes a private key as PKCS#8 PEM.
func KeyPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WritePair writes a certificate from a new test CA and its key to
// dir/certName and dir/keyName and returns their paths: a valid pair for a
// test whose subject is not the certificate.
func WritePair(t testing.TB, dir, certName, keyName string) (cert, key string) {
	t.Helper()
	c, k := NewCA(t, "pair CA").Issue(t, CertOpts{})
	return WriteFile(t, dir, certName, CertPEM(c)), WriteFile(t, dir, keyName, KeyPEM(t, k))
}
