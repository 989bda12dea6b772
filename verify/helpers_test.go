package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// issued is a test certificate with its key.
type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// spec shapes a test certificate: a CA by default when IsCA, a TLS
// server-and-client leaf otherwise; the zero fields take those defaults.
type spec struct {
	cn        string
	ca        bool
	noBC      bool // no basicConstraints at all
	pathLen   *int
	ku        x509.KeyUsage // 0: the default for a CA or a leaf
	eku       []x509.ExtKeyUsage
	noEKU     bool
	notBefore time.Time
	notAfter  time.Time
	key       crypto.Signer // nil: a fresh P-256 key
	skid      []byte        // nil: derived by crypto/x509
	akid      []byte        // a self-signed certificate's authority key identifier; nil: none
	subject   *pkix.Name    // overrides cn
	extra     []pkix.Extension
	aia       []string // caIssuers URLs
}

var serial = big.NewInt(time.Now().UnixNano())

// mk makes the certificate s describes, signed by parent (self-signed when
// parent is nil).
func mk(t *testing.T, s spec, parent *issued) *issued {
	t.Helper()
	key := s.key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	serial.Add(serial, big.NewInt(1))
	name := pkix.Name{CommonName: s.cn, Organization: []string{"verify test"}}
	if s.subject != nil {
		name = *s.subject
	}
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).Set(serial),
		Subject:               name,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: !s.noBC,
		IsCA:                  s.ca,
		SubjectKeyId:          s.skid,
		AuthorityKeyId:        s.akid,
		ExtraExtensions:       s.extra,
		IssuingCertificateURL: s.aia,
	}
	if !s.notBefore.IsZero() {
		tmpl.NotBefore = s.notBefore
	}
	if !s.notAfter.IsZero() {
		tmpl.NotAfter = s.notAfter
	}
	switch {
	case s.ku != 0:
		tmpl.KeyUsage = s.ku
	case s.ca:
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	default:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	switch {
	case s.eku != nil:
		tmpl.ExtKeyUsage = s.eku
	case !s.ca && !s.noEKU:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if s.pathLen != nil {
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = *s.pathLen, *s.pathLen == 0
	}
	signer, issuerCert := key, tmpl
	if parent != nil {
		signer, issuerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: c, key: key}
}

func rsaKey(t *testing.T, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func intp(n int) *int { return &n }

// unknownCritical is a critical extension OpenSSL does not handle.
var unknownCritical = pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}, Critical: true, Value: []byte{0x05, 0x00}}

// capathOf writes certs one per file into a new directory and runs
// openssl rehash there: a capath as OpenSSL's own tool makes it.
func capathOf(t *testing.T, openssl string, certs []*x509.Certificate) string {
	t.Helper()
	dir := t.TempDir()
	for i, c := range certs {
		testutil.WriteFile(t, dir, "ca"+strconv.Itoa(i)+".pem", testutil.CertPEM(c))
	}
	if out, err := exec.Command(openssl, "rehash", dir).CombinedOutput(); err != nil {
		t.Fatalf("openssl rehash: %v\n%s", err, out)
	}
	return dir
}

// opensslCert has openssl make a certificate crypto/x509 will not (a
// SHA-1 signature, version 1): `openssl x509 -req` with args, for a fresh
// RSA key, signed by parent or self-signed when parent is nil.
func opensslCert(t *testing.T, openssl, name string, parent *issued, args ...string) *issued {
	t.Helper()
	dir := t.TempDir()
	key := rsaKey(t, 2048)
	keyFile := testutil.WriteFile(t, dir, name+".key", testutil.KeyPEM(t, key))
	csr, out := filepath.Join(dir, name+".csr"), filepath.Join(dir, name+".pem")
	run := func(a ...string) {
		t.Helper()
		if b, err := exec.Command(openssl, a...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", a, err, b)
		}
	}
	run("req", "-new", "-key", keyFile, "-out", csr, "-subj", "/O=verify test/CN="+name)
	serial.Add(serial, big.NewInt(1))
	a := []string{"x509", "-req", "-in", csr, "-out", out, "-days", "1", "-set_serial", serial.String()}
	if parent == nil {
		a = append(a, "-signkey", keyFile)
	} else {
		a = append(a, "-CA", testutil.WriteFile(t, dir, "parent.pem", testutil.CertPEM(parent.cert)),
			"-CAkey", testutil.WriteFile(t, dir, "parent.key", testutil.KeyPEM(t, parent.key)))
	}
	run(append(a, args...)...)
	certs, err := readCAFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: certs[0], key: key}
}
