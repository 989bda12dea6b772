// Package testutil holds what certinit's tests share, once: finding the
// real programs they run (openssl, mosquitto, update-ca-certificates,
// pebble) with the rule that in CI a missing program is a failure, never a
// skip; a small certificate factory that writes real PEM files under
// t.TempDir(); a recording logger (Logs, also for a program's JSON log);
// a goroutine-safe Buffer; Eventually for state without an event; a TCP
// Relay; the random-SIGKILL loop of crash tests (KillAtRandom); and the
// file-system moves of certbot and the kubelet (renew.go).
//
// It is imported only from _test.go files and the other test packages
// (internal/mosquittotest, internal/pebbletest).
package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI (CI=true), where every real
// component must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of a program the test needs. When it is missing
// the test fails in CI and is skipped elsewhere, with the install hint
// (`make deps` installs everything as root).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{filepath.Join(ModuleRoot(t), ".bin"), "/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	msg := name + " not found: run `make deps` (as root) to install the test components"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// ModuleRoot returns the directory holding go.mod (tests run in their
// package directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// BuildCertinit builds the certinit binary once per test binary into a
// temporary directory and returns its path; tests that run the real command
// (signals, PID 1, crash tests) use it. It builds with the build tags of the
// shipped binary (Makefile, Dockerfile), so the tests run what ships.
func BuildCertinit(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certinit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, "certinit")
		cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", builtPath, "./cmd/certinit")
		cmd.Dir = ModuleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// RequireRoot fails in CI and skips elsewhere when the test is not root
// (namespaces, chown to other users).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("this test needs root (namespaces, chown)")
	}
	t.Skip("this test needs root")
}

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
	IssuerURL []string // AIA caIssuers: where the issuer's certificate is
}

var serial atomic.Int64

func init() { serial.Store(time.Now().UnixNano()) }

func nextSerial() *big.Int { return big.NewInt(serial.Add(1)) }

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
		IssuingCertificateURL: o.IssuerURL,
	}
	if o.IsCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return tmpl
}

// NewCA makes a self-signed root CA with the given common name.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	o := CertOpts{Subject: pkix.Name{CommonName: cn, Organization: []string{"certinit test"}}, IsCA: true}
	key := newKey(t)
	tmpl := o.template()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: c, Key: key}
}

// Issue signs a certificate for o with a fresh key. Set o.IsCA for an
// intermediate.
func (ca *CA) Issue(t testing.TB, o CertOpts) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := newKey(t)
	der, err := x509.CreateCertificate(rand.Reader, o.template(), ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// Intermediate issues a sub-CA of ca.
func (ca *CA) Intermediate(t testing.TB, cn string) *CA {
	t.Helper()
	c, k := ca.Issue(t, CertOpts{Subject: pkix.Name{CommonName: cn}, IsCA: true})
	return &CA{Cert: c, Key: k}
}

// CertPEM encodes certificates as PEM.
func CertPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
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

// WriteFile writes data to dir/name (mode 0644, or 0600 for names ending in
// "key.pem") and returns the path. Test fixtures only: product code uses
// internal/atomicfile.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	mode := os.FileMode(0o644)
	if filepath.Ext(name) == ".pem" && len(name) >= 7 && name[len(name)-7:] == "key.pem" {
		mode = 0o600
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ReadFile returns the content of a file the test expects to be there.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
