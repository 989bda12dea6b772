package probe

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// TestCapath checks OpenSSL's hash-directory lookup and the diagnosis of
// the ways it fails, on directories linked by `openssl rehash`.
func TestCapath(t *testing.T) {
	p := newPKI(t, "Capath")
	addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{p.serverPair(t, testutil.Localhost())}})
	rootPEM := testutil.CertPEM(p.root.Cert)

	t.Run("linked by openssl rehash", func(t *testing.T) {
		dir := t.TempDir()
		testutil.WriteFile(t, dir, "root.pem", rootPEM)
		testutil.OpenSSLRehash(t, dir)
		expect(t, run(t, Options{Address: addr, CAPath: dir}), VerdictOK)
	})
	t.Run("root and intermediate, leaf-only server", func(t *testing.T) {
		dir := t.TempDir()
		testutil.WriteFile(t, dir, "root.pem", rootPEM)
		testutil.WriteFile(t, dir, "inter.pem", testutil.CertPEM(p.inter.Cert))
		testutil.OpenSSLRehash(t, dir)
		leafOnly := p.serverPair(t, testutil.Localhost())
		leafOnly.Certificate = leafOnly.Certificate[:1]
		addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{leafOnly}})
		rep := run(t, Options{Address: addr, CAPath: dir})
		expect(t, rep, VerdictOK)
		if len(rep.VerifiedChain) != 3 {
			t.Errorf("verified chain %d long, want leaf, intermediate from capath, root", len(rep.VerifiedChain))
		}
	})
	t.Run("no hash link", func(t *testing.T) {
		dir := t.TempDir()
		testutil.WriteFile(t, dir, "root.pem", rootPEM)
		hash := testutil.SubjectHash(t, filepath.Join(dir, "root.pem"))
		expect(t, run(t, Options{Address: addr, CAPath: dir}), VerdictUnknownAuthority,
			"root.pem holds \"Capath Root\", but there is no hash link "+hash+".0", "certinit rehash "+dir)
	})
	t.Run("old-style links only", func(t *testing.T) {
		dir := t.TempDir()
		testutil.WriteFile(t, dir, "root.pem", rootPEM)
		testutil.OpenSSLRehash(t, dir, "-old")
		expect(t, run(t, Options{Address: addr, CAPath: dir}), VerdictUnknownAuthority, "only an old-style (MD5) hash link")
	})
	t.Run("DER file", func(t *testing.T) {
		dir := t.TempDir()
		testutil.WriteFile(t, dir, "root.crt", p.root.Cert.Raw)
		expect(t, run(t, Options{Address: addr, CAPath: dir}), VerdictUnknownAuthority, "in DER form", "reads only PEM")
	})
	t.Run("not a directory", func(t *testing.T) {
		_, err := Probe(t.Context(), Options{Address: addr, CAPath: p.rootFile})
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestTrustHints(t *testing.T) {
	p := newPKI(t, "Hint")
	addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{p.serverPair(t, testutil.Localhost())}})
	dir := t.TempDir()

	t.Run("issuer in the system store", func(t *testing.T) {
		other := newPKI(t, "Unrelated")
		rep := run(t, Options{Address: addr, CAFile: other.rootFile, SystemTrust: trustOf(t, p.root.Cert)})
		expect(t, rep, VerdictUnknownAuthority, `system trust store does have the root "Hint Root"`, "replaces the system store")
	})
	t.Run("system store itself", func(t *testing.T) {
		rep := run(t, Options{Address: addr, SystemTrust: trustOf(t, p.root.Cert)})
		expect(t, rep, VerdictOK)
		if rep.Trust != "the system trust store" {
			t.Errorf("trust %q", rep.Trust)
		}
	})
	t.Run("CA re-created with a new key", func(t *testing.T) {
		impostor := testutil.NewCA(t, "Hint Root") // same name, new key
		f := testutil.WriteFile(t, dir, "recreated.pem", testutil.CertPEM(impostor.Cert))
		expect(t, run(t, Options{Address: addr, CAFile: f}), VerdictUnknownAuthority, "different key", "re-created")
	})
	t.Run("expired root in the CA file", func(t *testing.T) {
		old := reissue(t, p.root, time.Now().Add(-48*time.Hour), time.Now().Add(-2*time.Hour))
		f := testutil.WriteFile(t, dir, "expired-root.pem", testutil.CertPEM(old))
		expect(t, run(t, Options{Address: addr, CAFile: f}), VerdictExpired, `The CA certificate "Hint Root" in --cafile`)
	})
	t.Run("missing cafile", func(t *testing.T) {
		_, err := Probe(t.Context(), Options{Address: addr, CAFile: filepath.Join(dir, "nope.pem")})
		if err == nil || !os.IsNotExist(unwrapAll(err)) {
			t.Fatalf("err = %v", err)
		}
	})
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// TestTrustAgreesWithOpenSSL sets up the same trust for the probe and for
// `openssl s_client -verify_return_error` and checks that they accept and
// refuse the same servers: the probe's cafile/capath semantics are
// OpenSSL's, not crypto/x509's defaults.
func TestTrustAgreesWithOpenSSL(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	p := newPKI(t, "Agree")
	other := newPKI(t, "Disagree")
	full := p.serverPair(t, testutil.Localhost())
	leafOnly := full
	leafOnly.Certificate = full.Certificate[:1]
	fullAddr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{full}})
	leafAddr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{leafOnly}})
	rootPEM, interPEM := testutil.CertPEM(p.root.Cert), testutil.CertPEM(p.inter.Cert)

	file := func(data []byte) func(t *testing.T) (string, string) {
		return func(t *testing.T) (string, string) {
			return testutil.WriteFile(t, t.TempDir(), "ca.pem", data), ""
		}
	}
	dir := func(rehashArgs []string, files map[string][]byte) func(t *testing.T) (string, string) {
		return func(t *testing.T) (string, string) {
			d := t.TempDir()
			for n, data := range files {
				testutil.WriteFile(t, d, n, data)
			}
			if rehashArgs != nil {
				testutil.OpenSSLRehash(t, d, rehashArgs...)
			}
			return "", d
		}
	}
	tests := []struct {
		name  string
		addr  string
		trust func(t *testing.T) (cafile, capath string)
	}{
		{"cafile root", fullAddr, file(rootPEM)},
		{"cafile intermediate only", fullAddr, file(interPEM)},
		{"cafile other root", fullAddr, file(testutil.CertPEM(other.root.Cert))},
		{"cafile root, leaf-only server", leafAddr, file(rootPEM)},
		{"cafile root and intermediate, leaf-only server", leafAddr, file(append(interPEM, rootPEM...))},
		{"capath linked", fullAddr, dir([]string{}, map[string][]byte{"root.pem": rootPEM})},
		{"capath unlinked", fullAddr, dir(nil, map[string][]byte{"root.pem": rootPEM})},
		{"capath old links", fullAddr, dir([]string{"-old"}, map[string][]byte{"root.pem": rootPEM})},
		{"capath DER", fullAddr, dir([]string{}, map[string][]byte{"root.crt": p.root.Cert.Raw})},
		{"capath root and intermediate, leaf-only server", leafAddr, dir([]string{}, map[string][]byte{"root.pem": rootPEM, "inter.pem": interPEM})},
		{"capath intermediate only", fullAddr, dir([]string{}, map[string][]byte{"inter.pem": interPEM})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cafile, capath := tc.trust(t)
			rep := run(t, Options{Address: tc.addr, ServerName: "localhost", CAFile: cafile, CAPath: capath})
			args := []string{"s_client", "-connect", tc.addr, "-servername", "localhost", "-verify_hostname", "localhost",
				"-verify_return_error", "-no-CAstore"}
			if cafile != "" {
				args = append(args, "-CAfile", cafile, "-no-CApath")
			} else {
				args = append(args, "-CApath", capath, "-no-CAfile")
			}
			cmd := exec.Command(openssl, args...)
			out, err := cmd.CombinedOutput()
			opensslOK := err == nil && strings.Contains(string(out), "Verify return code: 0 (ok)")
			t.Logf("probe %s, openssl ok=%v", rep.Verdict, opensslOK)
			if (rep.Verdict == VerdictOK) != opensslOK {
				var sb strings.Builder
				rep.WriteText(&sb)
				t.Fatalf("probe says %s, openssl s_client ok=%v\n--- probe ---\n%s--- openssl ---\n%s", rep.Verdict, opensslOK, sb.String(), out)
			}
		})
	}
}
