package pemfile

import (
	"crypto/x509/pkix"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

func TestReadCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t, "Test Root")
	inter := ca.Intermediate(t, "Test Intermediate")
	bundle := append(testutil.CertPEM(inter.Cert, ca.Cert), []byte("trailing text\n")...)
	truncated := testutil.CertPEM(ca.Cert)
	truncated = truncated[:len(truncated)/2]
	tests := []struct {
		name    string
		data    []byte
		want    int
		wantErr string
	}{
		{name: "one PEM", data: testutil.CertPEM(ca.Cert), want: 1},
		{name: "bundle with text", data: bundle, want: 2},
		{name: "DER", data: ca.Cert.Raw, want: 1},
		{name: "empty", data: nil, wantErr: "empty file"},
		{name: "garbage", data: []byte("\x00\x01garbage"), wantErr: "not a certificate"},
		{name: "truncated PEM", data: truncated, wantErr: "malformed PEM"},
		{name: "good then truncated", data: append(testutil.CertPEM(ca.Cert), truncated...), wantErr: "truncated"},
		{name: "key only", data: testutil.KeyPEM(t, ca.Key), wantErr: "no certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testutil.WriteFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".pem", tc.data)
			certs, err := ReadCertificates(p)
			if tc.wantErr != "" {
				wantErrNaming(t, err, p, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tc.want {
				t.Fatalf("got %d certificates, want %d", len(certs), tc.want)
			}
		})
	}
}

func TestLoadPair(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t, "Pair Root")
	leaf, key := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "broker"}, DNSNames: []string{"localhost"}})
	_, otherKey := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "other"}})
	expired, expKey := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "old"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	certPath := testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(leaf, ca.Cert))
	keyPath := testutil.WriteFile(t, dir, "privkey.pem", testutil.KeyPEM(t, key))
	otherPath := testutil.WriteFile(t, dir, "otherkey.pem", testutil.KeyPEM(t, otherKey))
	expPath := testutil.WriteFile(t, dir, "expired.pem", testutil.CertPEM(expired))
	expKeyPath := testutil.WriteFile(t, dir, "expkey.pem", testutil.KeyPEM(t, expKey))
	later, laterKey := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "later"},
		NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
	laterPath := testutil.WriteFile(t, dir, "later.pem", testutil.CertPEM(later))
	laterKeyPath := testutil.WriteFile(t, dir, "laterkey.pem", testutil.KeyPEM(t, laterKey))
	tests := []struct {
		name, cert, key, wantErr string
		kind                     error // what the error wraps, if one of LoadPair's kinds
	}{
		{"good pair", certPath, keyPath, "", nil},
		{"mismatched key", certPath, otherPath, "key does not match", ErrKeyMismatch},
		{"expired", expPath, expKeyPath, "expired", ErrExpired},
		{"not yet valid", laterPath, laterKeyPath, "not valid before", ErrNotYetValid},
		{"missing key", certPath, filepath.Join(dir, "nope.pem"), "no such file", fs.ErrNotExist},
		{"cert given as key", certPath, certPath, "no private key", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadPair(tc.cert, tc.key, time.Now())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Chain) != 2 || len(p.TLS.Certificate) != 2 {
					t.Fatalf("chain length %d", len(p.Chain))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			for _, k := range []error{ErrKeyMismatch, ErrExpired, ErrNotYetValid, fs.ErrNotExist} {
				if errors.Is(err, k) != (k == tc.kind) {
					t.Errorf("err = %v: errors.Is %v is %v", err, k, errors.Is(err, k))
				}
			}
		})
	}
	if _, err := os.Stat(certPath); err != nil {
		t.Fatal(err)
	}
}

// wantErrNaming fails t unless err names path and contains want: the one
// line a user gets must say which file and what is wrong with it.
func wantErrNaming(t *testing.T, err error, path, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want one naming %s and containing %q", err, path, want)
	}
}
