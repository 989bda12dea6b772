package probe

import (
	"crypto/x509/pkix"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestVerdictsOpenSSLServer runs `openssl s_server`, the TLS stack
// Mosquitto uses, for the cases where its behaviour differs from Go's:
// client-certificate requests and old protocol versions.
func TestVerdictsOpenSSLServer(t *testing.T) {
	p := newPKI(t, "OpenSSL")
	dir := t.TempDir()
	leaf, key := p.inter.Issue(t, testutil.Localhost())
	certFile := testutil.WriteFile(t, dir, "server.pem", testutil.CertPEM(leaf))
	keyFile := testutil.WriteFile(t, dir, "server-key.pem", testutil.KeyPEM(t, key))
	chainFile := testutil.WriteFile(t, dir, "chain.pem", testutil.CertPEM(p.inter.Cert))
	cLeaf, cKey := p.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "sensor-7"}})
	clientCert := testutil.WriteFile(t, dir, "client.pem", testutil.CertPEM(cLeaf, p.inter.Cert))
	clientKey := testutil.WriteFile(t, dir, "client-key.pem", testutil.KeyPEM(t, cKey))
	base := []string{"-cert", certFile, "-key", keyFile}

	t.Run("good chain", func(t *testing.T) {
		addr := startOpenSSL(t, append(base, "-cert_chain", chainFile)...)
		rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: p.rootFile})
		expect(t, rep, VerdictOK)
	})
	t.Run("leaf only", func(t *testing.T) {
		addr := startOpenSSL(t, base...)
		rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: p.rootFile, Offline: true})
		expect(t, rep, VerdictUnknownAuthority, "sent only its own certificate")
	})
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		req := append(append(base, "-cert_chain", chainFile, v), "-Verify", "2", "-CAfile", p.rootFile)
		t.Run("client certificate required "+v, func(t *testing.T) {
			addr := startOpenSSL(t, req...)
			rep := run(t, Options{Address: addr, CAFile: p.rootFile})
			expect(t, rep, VerdictClientCertRequired, "requires a client certificate", "OpenSSL Root")
		})
		t.Run("client certificate given "+v, func(t *testing.T) {
			addr := startOpenSSL(t, req...)
			rep := run(t, Options{Address: addr, CAFile: p.rootFile, CertFile: clientCert, KeyFile: clientKey})
			expect(t, rep, VerdictOK)
		})
	}
	t.Run("TLS 1.1 only", func(t *testing.T) {
		addr := startOpenSSL(t, append(base, "-cert_chain", chainFile, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")...)
		rep := run(t, Options{Address: addr, CAFile: p.rootFile})
		expect(t, rep, VerdictHandshakeFailure, "negotiated TLS 1.1")
	})
	t.Run("TLS 1.3 server, no shared group", func(t *testing.T) {
		addr := startOpenSSL(t, append(base, "-cert_chain", chainFile, "-tls1_3", "-groups", "ffdhe8192")...)
		rep := run(t, Options{Address: addr, CAFile: p.rootFile})
		expect(t, rep, VerdictHandshakeFailure, "handshake_failure (40)")
	})
}
