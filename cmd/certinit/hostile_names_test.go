package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// hostileCN is a common name that, printed raw, ends its line, forges a
// verdict and recolours a terminal.
const hostileCN = "evil\nverdict: ok\x1b[31m"

// hostileCA makes a self-signed CA named hostileCN, valid until notAfter,
// with a DNS name that carries a newline too.
func hostileCA(t *testing.T, notAfter time.Time) *testutil.CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: hostileCN, Organization: []string{"line\r\nbreak"}},
		DNSNames:              []string{"localhost", "evil\n.example"},
		NotBefore:             notAfter.Add(-48 * time.Hour),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != hostileCN {
		t.Fatalf("common name %q, want %q", c.Subject.CommonName, hostileCN)
	}
	return &testutil.CA{Cert: c, Key: key}
}

// requirePrintable fails when out holds a character that is not
// printable other than the newline ending each line (and the tab of a
// table), so no line can be forged or a terminal recoloured.
func requirePrintable(t *testing.T, what, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		for _, r := range l {
			if r != '\t' && !strconv.IsPrint(r) {
				t.Errorf("%s: line %q holds %q", what, l, r)
				break
			}
		}
	}
}

// TestHostileNames: a certificate whose subject and DNS name hold a newline
// and an escape sequence, in a file whose name holds a newline, goes
// through every command that prints names or paths: each prints what it
// always prints, line for line, with those characters escaped; error and
// log lines stay one line each.
func TestHostileNames(t *testing.T) {
	ca := hostileCA(t, time.Now().Add(365*24*time.Hour))
	dir := t.TempDir()
	caFile := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))
	linkDir := filepath.Join(dir, "links")
	if err := os.Mkdir(linkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	oddName := testutil.WriteFile(t, linkDir, "odd\nname.pem", testutil.CertPEM(ca.Cert))

	t.Run("hash", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "hash", oddName)
		if code != 0 || strings.Count(stdout, "\n") != 1 {
			t.Fatalf("exit %d, stdout %q: want one line", code, stdout)
		}
		requirePrintable(t, "hash", stdout)
	})
	t.Run("rehash -v", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "rehash", "-v", linkDir)
		if code != 0 || strings.Count(stdout, "\n") != 2 {
			t.Fatalf("exit %d, stdout %q: want Doing and one link line", code, stdout)
		}
		requirePrintable(t, "rehash -v", stdout)
	})
	t.Run("trust install and list", func(t *testing.T) {
		root := t.TempDir()
		code, stdout, stderr := runCLI(t, "trust", "install", "--root", root, "--store", "dir:/capath", caFile)
		if code != 0 || strings.Count(stdout, "\n") != 2 {
			t.Fatalf("exit %d, stdout %q, stderr %q: want an added line and a summary", code, stdout, stderr)
		}
		requirePrintable(t, "trust install", stdout)
		code, stdout, _ = runCLI(t, "trust", "list", "--root", root, "--store", "dir:/capath")
		if code != 0 || strings.Count(stdout, "\n") != 2 {
			t.Fatalf("exit %d, stdout %q: want a header and one certificate", code, stdout)
		}
		requirePrintable(t, "trust list", stdout)
		_, stdout, _ = runCLI(t, "trust", "list", "--root", root, "--store", "dir:/capath", "--json")
		var certs []struct{ Subject string }
		if err := json.Unmarshal([]byte(stdout), &certs); err != nil || len(certs) != 1 {
			t.Fatalf("--json: %v, %d certificates", err, len(certs))
		}
		requirePrintable(t, "trust list --json subject", certs[0].Subject)
	})
	t.Run("trust install --allow-partial-chain", func(t *testing.T) {
		// An intermediate whose issuer (the hostile root, not installed)
		// and issuer URL hold a newline: the partial-chain line names both.
		inter, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "Plain Intermediate"}, IsCA: true,
			CAIssuers: []string{"http://ca.example/root.crt\nadded fake (\x1b[31m"}})
		interFile := testutil.WriteFile(t, dir, "inter.pem", testutil.CertPEM(inter))
		code, stdout, stderr := runCLI(t, "trust", "install", "--root", t.TempDir(), "--store", "dir:/capath", "--allow-partial-chain", interFile)
		if code != 0 || strings.Count(stdout, "\n") != 3 {
			t.Fatalf("exit %d, stdout %q, stderr %q: want an added, a partial-chain and a summary line", code, stdout, stderr)
		}
		requirePrintable(t, "trust install --allow-partial-chain", stdout)
		for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
			if strings.HasPrefix(l, "added fake") {
				t.Errorf("forged line %q", l)
			}
		}
	})
	t.Run("trust rebuild of a dir: store with hostile file names", func(t *testing.T) {
		// A bundle in the store, under a name holding a newline and an
		// escape sequence, in a store directory whose name holds one too:
		// rebuild splits it and says so, naming the bundle, where it moved
		// and the store's own bundle.
		root := t.TempDir()
		store := filepath.Join(root, "cap\npath")
		if err := os.Mkdir(store, 0o755); err != nil {
			t.Fatal(err)
		}
		other := testutil.NewCA(t, "Other Root")
		testutil.WriteFile(t, store, "bun\ndle\x1b[31m.pem", testutil.CertPEM(ca.Cert, other.Cert))
		code, stdout, stderr := runCLI(t, "trust", "rebuild", "--root", root, "--store", "dir:/cap\npath")
		if code != 0 || strings.Count(stdout, "\n") != 2 {
			t.Fatalf("exit %d, stdout %q, stderr %q: want a split line and a summary", code, stdout, stderr)
		}
		requirePrintable(t, "trust rebuild", stdout)
	})
	t.Run("check", func(t *testing.T) {
		leaf, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: hostileCN},
			NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
		expired := testutil.WriteFile(t, dir, "expired\n.pem", testutil.CertPEM(leaf))
		other := testutil.NewCA(t, "Other Root")
		otherFile := testutil.WriteFile(t, dir, "other.pem", testutil.CertPEM(other.Cert))
		code, stdout, _ := runCLI(t, "check", "--cert", expired, "--cafile", otherFile)
		if code != 1 || strings.Count(stdout, "\n") != 2 {
			t.Fatalf("exit %d, stdout %q: want two problem lines (expired, does not chain)", code, stdout)
		}
		requirePrintable(t, "check", stdout)
	})
	t.Run("probe", func(t *testing.T) {
		leaf, key := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: hostileCN}, DNSNames: []string{"localhost", "a\nb"}})
		addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw, ca.Cert.Raw}, PrivateKey: key}}})
		for _, name := range []string{"localhost", "elsewhere"} {
			code, stdout, _ := runCLI(t, "probe", addr, "--servername", name, "--cafile", caFile, "--offline", "--timeout", "5s")
			requirePrintable(t, "probe "+name, stdout)
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			var verdicts int
			for _, l := range lines {
				if strings.HasPrefix(l, "verdict:") {
					verdicts++
				}
			}
			if verdicts != 1 || !strings.HasPrefix(lines[len(lines)-1], "verdict: ") {
				t.Errorf("probe %s: exit %d, %d verdict lines, last %q:\n%s", name, code, verdicts, lines[len(lines)-1], stdout)
			}
		}
	})
	t.Run("error line", func(t *testing.T) {
		code, _, stderr := runCLI(t, "hash", filepath.Join(dir, "no\nsuch\x1b[31m.pem"))
		requireErrorLine(t, 1, code, stderr)
		requirePrintable(t, "error line", stderr)
	})
	t.Run("log lines", func(t *testing.T) {
		old := hostileCA(t, time.Now().Add(-time.Hour)) // expired: installing it logs a warning with its subject
		oldFile := testutil.WriteFile(t, dir, "old\n.pem", testutil.CertPEM(old.Cert))
		for _, format := range []string{"text", "json"} {
			code, _, stderr := runCLI(t, "--log-format", format, "trust", "install", "--root", t.TempDir(), "--store", "dir:/capath", oldFile)
			if code != 0 || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("%s: exit %d, stderr %q: want the one warning on one line", format, code, stderr)
			}
			requirePrintable(t, format+" log", stderr)
		}
	})
}
