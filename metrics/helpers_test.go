package metrics

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/probe"
)

// testCN is the subject of every test leaf: it must never show in a label.
const testCN = "broker.certinit.test"

// pki is a CA, its file, and pairs it issues.
type pki struct {
	ca     *testutil.CA
	dir    string
	caFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{ca: testutil.NewCA(t, "certinit metrics test CA"), dir: t.TempDir()}
	p.caFile = testutil.WriteFile(t, p.dir, "ca.pem", testutil.CertPEM(p.ca.Cert))
	return p
}

// pair writes a leaf valid from notBefore to notAfter and its key as
// NAME.pem and NAME-key.pem, and returns the leaf and the two paths.
func (p *pki) pair(t *testing.T, name string, notBefore, notAfter time.Time) (leaf *x509.Certificate, cert, key string) {
	t.Helper()
	o := testutil.Localhost()
	o.Subject, o.NotBefore, o.NotAfter = pkix.Name{CommonName: testCN}, notBefore, notAfter
	leaf, k := p.ca.Issue(t, o)
	cert = testutil.WriteFile(t, p.dir, name+".pem", testutil.CertPEM(leaf))
	key = testutil.WriteFile(t, p.dir, name+"-key.pem", testutil.KeyPEM(t, k))
	return leaf, cert, key
}

// serve starts a real Mosquitto with a TLS listener on 127.0.0.1 loading
// cert and key, and returns the Cert that reads what it serves.
func serve(t *testing.T, cert, key string) Cert {
	t.Helper()
	port := testutil.FreePort(t)
	mosquittotest.Start(t, t.TempDir(), fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\nallow_anonymous true\n", port, cert, key))
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return Cert{Role: RoleServed, Path: cert, Served: func(ctx context.Context) ([]*x509.Certificate, error) {
		return probe.ServedChain(ctx, addr, "")
	}}
}

// at is a clock stopped at t, for Monitor.now.
func at(t time.Time) func() time.Time { return func() time.Time { return t } }
