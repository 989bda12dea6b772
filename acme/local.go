package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
)

// Local CA files, in CacheDir/local/.
const (
	LocalCAFile    = "ca.pem"     // the CA certificate: what clients and devices trust
	localCAKeyFile = "ca-key.pem" // its key, 0600
	localCAValid   = 10 * 365 * 24 * time.Hour
)

// LocalCA is an offline issuer: an ECDSA P-256 CA created once in the cache
// directory signs leaf certificates for any names, including dotless ones
// and IP addresses. It is for development, tests, air-gapped sites and
// device fleets that pin a private CA; nothing outside trusts it unless
// told to (install CAFile into their trust stores).
type LocalCA struct {
	cfg   Config
	log   *slog.Logger
	dir   string
	mu    sync.Mutex
	force bool // Config.ForceRenewal, until a certificate was issued
}

func newLocalCA(cfg Config, log *slog.Logger) *LocalCA {
	return &LocalCA{cfg: cfg, log: log, dir: filepath.Join(cfg.CacheDir, "local"), force: cfg.ForceRenewal}
}

// CAFile is the path of the CA certificate (it exists after the first
// Obtain). The same certificate is each output directory's chain.pem.
func (ca *LocalCA) CAFile() string { return filepath.Join(ca.dir, LocalCAFile) }

func (ca *LocalCA) leafCacheFile() string {
	return filepath.Join(ca.dir, "leaf-"+string(ca.cfg.KeyType)+".pem")
}

// Obtain implements Issuer.
func (ca *LocalCA) Obtain(ctx context.Context) (*Result, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	unlock, err := lockDir(ctx, ca.cfg.CacheDir, ca.log)
	if err != nil {
		return nil, err
	}
	defer unlock()

	now := nowFunc()
	root, err := ca.loadOrCreate(now)
	if err != nil {
		return nil, err
	}
	b, why := ca.cached(root, now)
	if b != nil && ca.force {
		b, why = nil, "renewal forced"
	}
	issued := b == nil
	if issued {
		ca.log.Info("issuing certificate from the local CA", "domain", strings.Join(ca.cfg.Domains, ","), "reason", why)
		if b, err = ca.issue(root, now); err != nil {
			return nil, err
		}
		ca.force = false
	}
	return export(ca.cfg, b, issued, byRenewBefore(b.leaf(), ca.cfg.RenewBefore), ca.log)
}

// loadOrCreate returns the CA (key and certificate, as a bundle), creating
// it on first use. A CA that exists but is broken or expired is an error,
// never silently replaced: devices may pin it.
func (ca *LocalCA) loadOrCreate(now time.Time) (*bundle, error) {
	certPath, keyPath := ca.CAFile(), filepath.Join(ca.dir, localCAKeyFile)
	_, cerr := os.Lstat(certPath)
	_, kerr := os.Lstat(keyPath)
	if errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist) {
		return ca.create(now, certPath, keyPath)
	}
	certs, err := pemfile.ReadCertificates(certPath)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	key, err := pemfile.ReadKey(keyPath)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	b := &bundle{key: key, chain: certs[:1]}
	switch {
	case !pemfile.KeyMatches(b.leaf(), key):
		return nil, fmt.Errorf("local CA: %s does not match %s", keyPath, certPath)
	case !b.leaf().IsCA:
		return nil, fmt.Errorf("local CA: %s is not a CA certificate", certPath)
	case !now.Before(b.leaf().NotAfter):
		return nil, fmt.Errorf("local CA: %s expired at %s; remove %s to create a new CA (and trust it again everywhere)",
			certPath, b.leaf().NotAfter.UTC().Format(time.RFC3339), ca.dir)
	}
	return b, nil
}

func (ca *LocalCA) create(now time.Time, certPath, keyPath string) (*bundle, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 4)
	rand.Read(id)
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "certinit local CA " + hex.EncodeToString(id), Organization: []string{"certinit"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(localCAValid),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // signs leaves only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := mkdirPrivate(ca.dir); err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	// The key first: a crash between the two writes leaves a key without a
	// certificate, which loadOrCreate reports instead of using.
	if err := atomicfile.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(certPath, pemfile.EncodeCerts(cert), 0o644); err != nil {
		return nil, err
	}
	ca.log.Info("created local CA", "path", certPath, "subject", cert.Subject.CommonName)
	return &bundle{key: key, chain: []*x509.Certificate{cert}}, nil
}

// cached returns the cached leaf when it is valid, signed by root, and
// outside its renewal window; otherwise nil and why.
func (ca *LocalCA) cached(root *bundle, now time.Time) (*bundle, string) {
	data, err := pemfile.ReadFile(ca.leafCacheFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "none cached"
	}
	if err != nil {
		return nil, err.Error()
	}
	b, err := parseBundle(data)
	if err != nil {
		return nil, "cached one unreadable: " + err.Error()
	}
	if err := b.check(ca.cfg.Domains, ca.cfg.KeyType, now); err != nil {
		return nil, "cached one " + err.Error()
	}
	if b.leaf().CheckSignatureFrom(root.leaf()) != nil {
		return nil, "cached one is from another CA"
	}
	if next := byRenewBefore(b.leaf(), ca.cfg.RenewBefore); !now.Before(next.at) {
		return nil, "due: " + next.why
	}
	return b, ""
}

// issue signs a new leaf for the configured names and caches it.
func (ca *LocalCA) issue(root *bundle, now time.Time) (*bundle, error) {
	key, err := newKey(ca.cfg.KeyType)
	if err != nil {
		return nil, err
	}
	valid := ca.cfg.LocalValidity
	backdate := min(time.Hour, valid/4) // tolerate clocks a little behind
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(valid),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if tmpl.NotAfter.After(root.leaf().NotAfter) {
		tmpl.NotAfter = root.leaf().NotAfter
	}
	if ca.cfg.KeyType == KeyRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if first := ca.cfg.Domains[0]; len(first) <= 64 {
		tmpl.Subject.CommonName = first
	}
	for _, n := range ca.cfg.Domains {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.leaf(), key.Public(), root.key)
	if err != nil {
		return nil, fmt.Errorf("local CA: sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	b := &bundle{key: key, chain: []*x509.Certificate{leaf, root.leaf()}}
	data, err := b.encode()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(ca.leafCacheFile(), data, 0o600); err != nil {
		return nil, err
	}
	ca.log.Info("certificate issued", "domain", strings.Join(ca.cfg.Domains, ","), "serial", leaf.SerialNumber.Text(16),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return b, nil
}

func newKey(kt KeyType) (crypto.Signer, error) {
	if kt == KeyRSA {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// randomSerial is a positive 128-bit serial number.
func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}
