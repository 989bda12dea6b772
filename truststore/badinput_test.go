package truststore

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// TestBadInputLeavesStoreUnchanged gives install one good file and one bad
// one: the error names the bad file, and the whole tree is byte-for-byte
// what it was (all inputs are checked before anything is written).
func TestBadInputLeavesStoreUnchanged(t *testing.T) {
	in := t.TempDir()
	good, _ := writeCA(t, in, "good.pem", "Good CA")
	ca := testutil.NewCA(t, "Issuer CA")
	leaf, key := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "mqtt.example"}, DNSNames: []string{"mqtt.example"}})
	full := testutil.CertPEM(ca.Cert)
	unreadable := testutil.WriteFile(t, in, "unreadable.pem", full)
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		want       string // part of the error
	}{
		{"garbage", testutil.WriteFile(t, in, "garbage.pem", []byte("this is not a certificate\n")), "not DER"},
		{"truncated PEM", testutil.WriteFile(t, in, "trunc.pem", full[:len(full)/2]), "malformed PEM"},
		{"second block truncated", testutil.WriteFile(t, in, "trunc2.pem", append(testutil.CertPEM(ca.Cert), full[:len(full)-40]...)), "malformed PEM"},
		{"private key", testutil.WriteFile(t, in, "key.pem", testutil.KeyPEM(t, key)), "private key"},
		{"cert with key", testutil.WriteFile(t, in, "both.pem", append(testutil.CertPEM(ca.Cert), testutil.KeyPEM(t, key)...)), "private key"},
		{"leaf certificate", testutil.WriteFile(t, in, "cert.pem", testutil.CertPEM(leaf)), "root CA at the top of its chain"},
		{"leaf in a chain", testutil.WriteFile(t, in, "fullchain.pem", testutil.CertPEM(leaf, ca.Cert)), "--allow-non-ca"},
		{"empty file", testutil.WriteFile(t, in, "empty.pem", nil), "empty"},
		{"missing file", filepath.Join(in, "nope.pem"), "no such file"},
		{"directory", in, "is a directory"},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct{ name, file, want string }{"unreadable", unreadable, "permission denied"})
	}
	for _, spec := range []string{"debian", "rhel", "dir:/certs"} {
		base := t.TempDir()
		install(t, openStore(t, base, spec), good)
		for _, tc := range tests {
			t.Run(spec+"/"+tc.name, func(t *testing.T) {
				root := t.TempDir()
				testutil.CopyTree(t, base, root)
				before := testutil.TreeDigest(t, root, false)
				s := openStore(t, root, spec)
				_, err := s.Install(context.Background(), []string{good, tc.file}, InstallOptions{})
				if err == nil {
					t.Fatal("install succeeded")
				}
				if !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q: want one line naming %s and saying %q", err, tc.file, tc.want)
				}
				if after := testutil.TreeDigest(t, root, false); after != before {
					t.Errorf("store changed (- before, + after):\n%s", testutil.DiffLines(before, after))
				}
			})
		}
	}
	t.Run("allow-non-ca", func(t *testing.T) {
		root := t.TempDir()
		s := openStore(t, root, "debian")
		// With its CA: OpenSSL trusts the pinned certificate only through a
		// chain that ends at a self-signed root.
		_, err := s.Install(context.Background(), []string{testutil.WriteFile(t, in, "pin.pem", testutil.CertPEM(leaf, ca.Cert))}, InstallOptions{AllowNonCA: true})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestNotCAError(t *testing.T) {
	in := t.TempDir()
	ca := testutil.NewCA(t, "Issuer")
	leaf, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "leaf"}})
	f := testutil.WriteFile(t, in, "cert.pem", testutil.CertPEM(leaf))
	_, _, err := readInput(f, InstallOptions{})
	if !errors.Is(err, errNotCA) {
		t.Fatalf("err = %v, want errNotCA", err)
	}
}

// TestSelfIssuedLeafIsNotAnAnchor: a leaf that names itself as issuer and
// signs itself is an anchor only when OpenSSL calls it self-signed; with
// an authority key identifier naming another key than its subject key
// identifier it is not, and trusting
// it trusts nothing (openssl verify -CAfile with it alone fails). Install
// accepts without --allow-non-ca exactly the leaves openssl verify accepts
// that way.
func TestSelfIssuedLeafIsNotAnAnchor(t *testing.T) {
	in := t.TempDir()
	for _, tc := range []struct {
		name string
		akid []byte
	}{
		{"no authority key identifier", nil},
		{"foreign authority key identifier", []byte{1, 2, 3, 4, 5, 6, 7, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := testutil.NewKey(t, "p256")
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "pinned.example"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				SubjectKeyId: []byte{9, 9, 9, 9}, AuthorityKeyId: tc.akid}
			c := testutil.CreateCertificate(t, tmpl, tmpl, key.Public(), key)
			if !bytes.Equal(c.AuthorityKeyId, tc.akid) || c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
				t.Fatal("the fixture does not make the case")
			}
			f := testutil.WriteFile(t, in, strings.ReplaceAll(tc.name, " ", "-")+".pem", testutil.CertPEM(c))
			ref := testutil.OpenSSLVerify(t, f, testutil.VerifyFiles{CAfile: f})
			_, _, err := readInput(f, InstallOptions{})
			if ref.OK != (err == nil) || err != nil && !errors.Is(err, errNotCA) {
				t.Fatalf("install: %v; openssl verify with it as the only trust: %s", err, ref.Output)
			}
		})
	}
}

// TestExpiredWarns: an expired CA is installed with a warning.
func TestExpiredWarns(t *testing.T) {
	in := t.TempDir()
	root := t.TempDir()
	ca := testutil.NewCA(t, "Live CA")
	old, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "Old Sub CA"}, IsCA: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	f := testutil.WriteFile(t, in, "old.pem", testutil.CertPEM(old, ca.Cert))
	logs, log := testutil.NewLogs(t)
	s, err := Open(root, "debian", log)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Install(context.Background(), []string{f}, InstallOptions{})
	if err != nil || len(rep.Added) != 2 {
		t.Fatalf("install: %v, %v", rep, err)
	}
	warned := logs.Matching(testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.HasAttr("path", f), testutil.HasAttr("not_after", old.NotAfter.UTC().Format(time.RFC3339))))
	if len(warned) != 1 {
		t.Errorf("%d warnings naming the file and its expiry, want 1", len(warned))
	}
}

// TestPlantedSymlink: a symlink planted where certinit writes a certificate
// is refused, and its target is not written.
func TestPlantedSymlink(t *testing.T) {
	in := t.TempDir()
	f, ca := writeCA(t, in, "ca.pem", "Planted CA")
	root := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	local := testutil.Mkdir(t, filepath.Join(root, "usr/local/share/ca-certificates"))
	if err := os.Symlink(victim, filepath.Join(local, stableName(ca.Cert)+".crt")); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, root, "debian")
	if _, err := s.Install(context.Background(), []string{f}, InstallOptions{}); err == nil {
		t.Fatal("install wrote through a planted symlink")
	}
	if _, err := os.Stat(victim); !os.IsNotExist(err) {
		t.Fatal("the symlink's target was written")
	}
}

// TestRemoveErrors: an unknown name or a distribution certificate is an
// error and changes nothing.
func TestRemoveErrors(t *testing.T) {
	in := t.TempDir()
	f, _ := writeCA(t, in, "ca.pem", "Remove CA")
	other, _ := writeCA(t, in, "other.pem", "Never Installed")
	root := t.TempDir()
	testutil.WriteFile(t, root, "usr/share/ca-certificates/mozilla/Some_Root.crt", testutil.CertPEM(testutil.NewCA(t, "Some Root").Cert))
	testutil.WriteFile(t, root, "etc/ca-certificates.conf", []byte("mozilla/Some_Root.crt\n"))
	s := openStore(t, root, "debian")
	install(t, s, f)
	before := testutil.TreeDigest(t, root, false)
	for _, args := range [][]string{{"No_Such_CA"}, {other}, {"Some_Root"}, {f, "No_Such_CA"}} {
		if _, err := s.Remove(context.Background(), args); err == nil {
			t.Errorf("remove %v succeeded", args)
		}
		if testutil.TreeDigest(t, root, false) != before {
			t.Fatalf("remove %v changed the store", args)
		}
	}
	if rep, err := s.Remove(context.Background(), []string{f}); err != nil || len(rep.Removed) != 1 {
		t.Fatalf("remove by file: %v %+v", err, rep)
	}
}

// TestInstallInputsAsRead: files read and checked by ReadInputs are
// installed as they were read, whatever they hold at install time (a bad
// file in their place changes nothing), and Data gives the bytes read.
func TestInstallInputsAsRead(t *testing.T) {
	root, in := t.TempDir(), t.TempDir()
	first := testutil.CertPEM(testutil.NewCA(t, "Read First").Cert)
	f := testutil.WriteFile(t, in, "ca.pem", first)
	inputs, err := ReadInputs([]string{f}, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := inputs.Data(f); !bytes.Equal(got, first) {
		t.Fatalf("Data = %q, want the bytes read", got)
	}
	if inputs.Data(filepath.Join(in, "other.pem")) != nil {
		t.Fatal("Data of a file not read is not nil")
	}
	testutil.WriteFile(t, in, "ca.pem", []byte("not a certificate any more\n"))
	s := openStore(t, root, "dir:/capath")
	rep, err := s.InstallInputs(context.Background(), inputs, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) != 1 || !strings.Contains(rep.Added[0].Subject, "Read First") {
		t.Fatalf("added %+v, want the certificate read", rep.Added)
	}
	if _, err := ReadInputs([]string{f}, InstallOptions{}); err == nil || !strings.Contains(err.Error(), f) {
		t.Fatalf("ReadInputs of the bad file: %v, want an error naming it", err)
	}
}
