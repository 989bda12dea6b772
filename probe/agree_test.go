package probe

import (
	"crypto/x509"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/verify"
)

// agreeCase is a server chain and a client's trust, for
// TestVerdictsAgreeWithOpenSSL.
type agreeCase struct {
	name      string
	leaf      *x509.Certificate
	key       []byte // the leaf's key, PEM
	sent      []*x509.Certificate
	cafile    []*x509.Certificate // written as one file; nil: no --cafile
	capath    [][]*x509.Certificate
	wantCode  verify.Code // what the row is for; OpenSSL's own verdict is the reference
	wantDepth int
}

// TestVerdictsAgreeWithOpenSSL gives probe and check the files of a
// client's trust and a server's chain, and compares what they say with
// OpenSSL on the same files, case by case: the probe's verdict and the
// error it reports with `openssl s_client -verify_return_error` against
// `openssl s_server` serving the chain and with `openssl verify -purpose
// sslserver`; check --cert CHAIN with --cafile or --capath passes exactly
// when `openssl verify` accepts the chain for a TLS server or a TLS
// client (check is not told which the certificate is).
func TestVerdictsAgreeWithOpenSSL(t *testing.T) {
	p := newPKI(t, "Agree")
	leaf, key := p.inter.Issue(t, testutil.Localhost())
	keyPEM := testutil.KeyPEM(t, key)
	oldInter := expiredIntermediate(t, p.root, p.inter)
	clientOnly := testutil.Localhost()
	clientOnly.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	clientLeaf, clientKey := p.inter.Issue(t, clientOnly)
	codeSigning := testutil.Localhost()
	codeSigning.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	codeLeaf, codeKey := p.inter.Issue(t, codeSigning)
	clientCA, _ := p.root.Issue(t, testutil.CertOpts{Subject: p.inter.Cert.Subject, IsCA: true, Key: p.inter.Key,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	self := testutil.NewCA(t, "localhost")
	other := newPKI(t, "Stranger")

	root, inter := p.root.Cert, p.inter.Cert
	certs := func(c ...*x509.Certificate) []*x509.Certificate { return c }
	cases := []agreeCase{
		{"root only, cafile", leaf, keyPEM, certs(inter), certs(root), nil, 0, 0},
		{"root only, capath", leaf, keyPEM, certs(inter), nil, [][]*x509.Certificate{{root}}, 0, 0},
		{"intermediate only as trust, cafile", leaf, keyPEM, certs(inter), certs(inter), nil, verify.UnableToGetIssuerCert, 1},
		{"intermediate only as trust, capath", leaf, keyPEM, certs(inter), nil, [][]*x509.Certificate{{inter}}, verify.UnableToGetIssuerCert, 1},
		{"bundle of root and intermediate in a capath", leaf, keyPEM, certs(inter), nil, [][]*x509.Certificate{{root, inter}}, verify.UnableToGetIssuerCertLocally, 1},
		{"root and intermediate in a capath, a file each", leaf, keyPEM, nil, nil, [][]*x509.Certificate{{root}, {inter}}, 0, 0},
		{"bundle of root and intermediate as cafile", leaf, keyPEM, nil, certs(inter, root), nil, 0, 0},
		{"leaf as trust", leaf, keyPEM, certs(inter), certs(leaf), nil, verify.UnableToGetIssuerCertLocally, 1},
		{"expired intermediate", leaf, keyPEM, certs(oldInter), certs(root), nil, verify.CertHasExpired, 1},
		{"wrong EKU: a client certificate served", clientLeaf, testutil.KeyPEM(t, clientKey), certs(inter), certs(root), nil, verify.InvalidPurpose, 0},
		{"wrong EKU: code signing only", codeLeaf, testutil.KeyPEM(t, codeKey), certs(inter), certs(root), nil, verify.InvalidPurpose, 0},
		{"wrong EKU: intermediate for clients only", leaf, keyPEM, certs(clientCA), certs(root), nil, verify.InvalidPurpose, 1},
		{"another root", leaf, keyPEM, certs(inter), certs(other.root.Cert), nil, verify.UnableToGetIssuerCertLocally, 1},
		{"root sent, not trusted", leaf, keyPEM, certs(inter, root), certs(other.root.Cert), nil, verify.SelfSignedCertInChain, 2},
		{"self-signed server", self.Cert, testutil.KeyPEM(t, self.Key), nil, certs(root), nil, verify.DepthZeroSelfSignedCert, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			leafFile := testutil.WriteFile(t, dir, "leaf.pem", testutil.CertPEM(tc.leaf))
			chainFile := testutil.WriteFile(t, dir, "chain.pem", testutil.CertPEM(append([]*x509.Certificate{tc.leaf}, tc.sent...)...))
			keyFile := testutil.WriteFile(t, dir, "key.pem", tc.key)
			serverArgs := []string{"-cert", leafFile, "-key", keyFile}
			files := testutil.VerifyFiles{Purpose: "sslserver", AuthLevel: verify.MosquittoSecurityLevel}
			if len(tc.sent) > 0 {
				files.Untrusted = testutil.WriteFile(t, dir, "sent.pem", testutil.CertPEM(tc.sent...))
				serverArgs = append(serverArgs, "-cert_chain", files.Untrusted)
			}
			if tc.cafile != nil {
				files.CAfile = testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(tc.cafile...))
			}
			if tc.capath != nil {
				files.CApath = filepath.Join(dir, "capath")
				for i, group := range tc.capath {
					testutil.WriteFile(t, files.CApath, "ca"+strconv.Itoa(i)+".pem", testutil.CertPEM(group...))
				}
				testutil.OpenSSLRehashCode(t, files.CApath) // it refuses bundles, and links the rest
			}
			ref := testutil.OpenSSLVerify(t, leafFile, files)
			if ref.Code != int(tc.wantCode) || (!ref.OK && ref.Depth != tc.wantDepth) {
				t.Fatalf("the fixture does not make the case: openssl verify says %d at depth %d (%s), the row expects %d at %d\n%s",
					ref.Code, ref.Depth, ref.Text, tc.wantCode, tc.wantDepth, ref.Output)
			}

			addr := startOpenSSL(t, serverArgs...)
			sclient := testutil.OpenSSLConnect(t, addr, "localhost", files)
			rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: files.CAfile, CAPath: files.CApath, Offline: true})
			text := reportText(rep)
			if sclient.OK != ref.OK || sclient.Code != ref.Code || sclient.Depth != ref.Depth {
				t.Fatalf("openssl s_client: %v %d at %d, openssl verify: %v %d at %d\n%s", sclient.OK, sclient.Code, sclient.Depth, ref.OK, ref.Code, ref.Depth, sclient.Output)
			}
			if want := verdictOf(ref); rep.Verdict != want {
				t.Errorf("probe says %s, OpenSSL's %d (%s) means %s\n%s", rep.Verdict, ref.Code, ref.Text, want, text)
			}
			switch e := rep.OpenSSLError; {
			case ref.OK && e != nil:
				t.Errorf("probe reports OpenSSL error %d, openssl verifies\n%s", e.Code, text)
			case !ref.OK && (e == nil || e.Code != ref.Code || e.Depth != ref.Depth || e.Text != ref.Text):
				t.Errorf("probe reports OpenSSL error %+v, openssl: %d at depth %d: %s\n%s", e, ref.Code, ref.Depth, ref.Text, text)
			}

			// check is not told whether the chain is a server's or a
			// client's: it passes when OpenSSL accepts it as either.
			asClient := files
			asClient.Purpose = "sslclient"
			opensslOK := ref.OK || testutil.OpenSSLVerify(t, leafFile, asClient).OK
			probs, err := Check(CheckOptions{CertFile: chainFile, CAFile: files.CAfile, CAPath: files.CApath})
			if err != nil {
				t.Fatal(err)
			}
			if (len(probs) == 0) != opensslOK {
				t.Errorf("check found %d problems, openssl verify as a server or a client: ok=%v\n%s", len(probs), opensslOK, problemLines(probs))
			}
			t.Logf("openssl %d %s; probe %s; check:\n%s", ref.Code, ref.Text, rep.Verdict, problemLines(probs))
		})
	}
}

// verdictOf is the probe verdict for what OpenSSL said about a server's
// chain (no chain here carries an issuer URL, so a missing issuer is an
// unknown authority, not an incomplete chain).
func verdictOf(v testutil.OpenSSLVerdict) Verdict {
	switch {
	case v.OK:
		return VerdictOK
	case v.Code == int(verify.UnableToGetIssuerCert), v.Code == int(verify.UnableToGetIssuerCertLocally), v.Code == int(verify.SelfSignedCertInChain):
		return VerdictUnknownAuthority
	case v.Code == int(verify.DepthZeroSelfSignedCert):
		return VerdictSelfSigned
	case v.Code == int(verify.CertHasExpired):
		return VerdictExpired
	case v.Code == int(verify.CertNotYetValid):
		return VerdictNotYetValid
	}
	return VerdictHandshakeFailure
}
