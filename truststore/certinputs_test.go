package truststore

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestCertInputsSameNames: certificates in hand (as probe --save gives
// them), two chains whose root and intermediate have the same names and
// different keys, installed one after the other into a dir: store. Each
// certificate keeps a file of its own, and openssl verify -CApath accepts
// a leaf of either chain.
func TestCertInputsSameNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "capath")
	s := openStore(t, "/", "dir:"+dir)
	var leaves []*x509.Certificate
	for range 2 {
		root := testutil.NewCA(t, "Same Name Root")
		inter := root.Intermediate(t, "Same Name Intermediate")
		leaf, _ := inter.Issue(t, testutil.Localhost())
		leaves = append(leaves, leaf)
		rep, err := s.InstallInputs(context.Background(), CertInputs("the chain of localhost:8883", inter.Cert, root.Cert), InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Added) != 2 {
			t.Fatalf("added %d, want the intermediate and the root", len(rep.Added))
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var pems int
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".pem" {
			pems++
		}
	}
	if pems != 4 {
		t.Errorf("%d certificate files, want 4", pems)
	}
	for i, leaf := range leaves {
		f := testutil.WriteFile(t, t.TempDir(), "leaf.pem", testutil.CertPEM(leaf))
		if v := testutil.OpenSSLVerify(t, f, testutil.VerifyFiles{CApath: dir}); !v.OK {
			t.Errorf("leaf %d: openssl verify -CApath: %d %s", i, v.Code, v.Text)
		}
	}
}
