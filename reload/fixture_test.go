package reload

import (
	"crypto/x509/pkix"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// recorder is the Target in these tests: it records what the reloader
// asked for. The real supervisor and a real Mosquitto are exercised by
// cmd/certinit's run tests.
type recorder struct {
	mu       sync.Mutex
	actions  []string
	outcomes testutil.Collected[Outcome] // Config.Report's, where a test sets it
}

func (r *recorder) Signal(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.actions = append(r.actions, "signal "+sig.String())
	return nil
}

func (r *recorder) Restart() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.actions = append(r.actions, "restart")
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.actions
	r.actions = nil
	return a
}

// fixture is a directory with a CA and a server pair.
type fixture struct {
	t                 *testing.T
	dir               string
	ca                *testutil.CA
	cert, key, cafile string
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, dir: t.TempDir(), ca: testutil.NewCA(t, "reload test CA")}
	f.cert = filepath.Join(f.dir, "live", "fullchain.pem")
	f.key = filepath.Join(f.dir, "live", "privkey.pem")
	f.cafile = testutil.WriteFile(t, f.dir, "ca.pem", testutil.CertPEM(f.ca.Cert))
	f.writePair(testutil.CertOpts{})
	return f
}

// writePair issues a fresh pair (opts shape the certificate) and writes it.
func (f *fixture) writePair(opts testutil.CertOpts) (certPEM, keyPEM []byte) {
	l := testutil.Localhost()
	opts.Subject, opts.DNSNames, opts.IPs = l.Subject, l.DNSNames, l.IPs
	c, k := f.ca.Issue(f.t, opts)
	certPEM, keyPEM = testutil.CertPEM(c), testutil.KeyPEM(f.t, k)
	testutil.WriteFile(f.t, filepath.Dir(f.cert), filepath.Base(f.cert), certPEM)
	testutil.WriteFile(f.t, filepath.Dir(f.key), filepath.Base(f.key), keyPEM)
	return certPEM, keyPEM
}

// writePairKeyOnly replaces only the key, with one of a fresh pair.
func (f *fixture) writePairKeyOnly() ([]byte, string) {
	_, k := f.ca.Issue(f.t, testutil.CertOpts{Subject: pkix.Name{CommonName: "other"}})
	keyPEM := testutil.KeyPEM(f.t, k)
	testutil.WriteFile(f.t, filepath.Dir(f.key), filepath.Base(f.key), keyPEM)
	return keyPEM, f.key
}

func (f *fixture) otherCA() string {
	return testutil.WriteFile(f.t, f.dir, "other-ca.pem", testutil.CertPEM(testutil.NewCA(f.t, "other CA").Cert))
}

// rewriteCA appends a second CA to the CA file.
func (f *fixture) rewriteCA() {
	testutil.WriteFile(f.t, f.dir, "ca.pem", append(testutil.CertPEM(f.ca.Cert), testutil.CertPEM(testutil.NewCA(f.t, "second CA").Cert)...))
}
