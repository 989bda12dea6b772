package hashlink

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// lookupPKI is what the lookup tests put in a capath: twin roots A and B
// (one subject, so one hash, told apart by their key identifiers), a root
// X of another name, a leaf of each, and a CRL of A.
type lookupPKI struct {
	a, b, x          *testutil.CA
	leaves           map[string]string // "A", "B", "X" -> leaf file
	crlA             []byte
	hash, hashOld    string // A's and B's, as openssl prints them
	hashOfX          string
	work             string
	pem              map[string][]byte // "A", "B", "X" -> the root as PEM
	derA             []byte
	corrupt, crlHdrA []byte
}

func newLookupPKI(t *testing.T) *lookupPKI {
	p := &lookupPKI{a: testutil.NewCA(t, "Lookup Twin"), b: testutil.NewCA(t, "Lookup Twin"), x: testutil.NewCA(t, "Lookup Other"),
		leaves: map[string]string{}, pem: map[string][]byte{}, work: t.TempDir()}
	for name, ca := range map[string]*testutil.CA{"A": p.a, "B": p.b, "X": p.x} {
		leaf, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "leaf " + name}})
		p.leaves[name] = testutil.WriteFile(t, p.work, "leaf"+name+".pem", testutil.CertPEM(leaf))
		p.pem[name] = testutil.CertPEM(ca.Cert)
	}
	rootA := testutil.WriteFile(t, p.work, "rootA.pem", p.pem["A"])
	p.hash = testutil.SubjectHash(t, rootA)
	p.hashOld = testutil.OpenSSL(t, "x509", "-noout", "-subject_hash_old", "-in", rootA)
	p.hashOfX = testutil.SubjectHash(t, testutil.WriteFile(t, p.work, "rootX.pem", p.pem["X"]))
	p.derA = p.a.Cert.Raw
	p.crlA = p.a.CRL(t)
	p.corrupt = []byte("-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n")
	p.crlHdrA = bytes.Replace(p.crlA, []byte("-----\n"), []byte("-----\nX-Note: kept\n\n"), 1)
	return p
}

// TestLookupAgreesWithOpenSSL: for capath directories of every shape that
// stops OpenSSL's lookup or not, the certificates and CRLs LookupDir finds
// are those `openssl verify -CApath` (with -crl_check for the CRL) finds,
// and ParseInfos loads a file as a cafile exactly when `openssl verify
// -CAfile` does.
func TestLookupAgreesWithOpenSSL(t *testing.T) {
	p := newLookupPKI(t)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	headerA := bytes.Replace(p.pem["A"], []byte("-----\n"), []byte("-----\nX-Note: kept\n\n"), 1)
	for _, tc := range []struct {
		name  string
		files map[string]any // H stands for the hash, O for the old hash; a string value is a symbolic link's target
		found string         // the roots openssl finds, with C for A's CRL
	}{
		{"one root", map[string]any{"H.0": p.pem["A"]}, "A"},
		{"two roots with one hash", map[string]any{"H.0": p.pem["A"], "H.1": p.pem["B"]}, "AB"},
		{"a gap", map[string]any{"H.0": p.pem["A"], "H.2": p.pem["B"]}, "A"},
		{"no first number", map[string]any{"H.1": p.pem["B"]}, ""},
		{"a dangling link", map[string]any{"H.0": "missing.pem", "H.1": p.pem["B"]}, ""},
		{"DER behind a link", map[string]any{"H.0": p.derA, "H.1": p.pem["B"]}, ""},
		{"only an old-style link", map[string]any{"O.0": p.pem["A"]}, ""},
		{"a certificate and a CRL in one file", map[string]any{"a.pem": cat(p.pem["A"], p.crlA), "H.0": "a.pem", "H.r0": "a.pem"}, "AC"},
		{"a CRL after a gap", map[string]any{"H.0": p.pem["A"], "H.r1": p.crlA}, "A"},
		{"the second block corrupt", map[string]any{"H.0": cat(p.pem["A"], p.corrupt), "H.1": p.pem["B"]}, "A"},
		{"the first block corrupt", map[string]any{"H.0": cat(p.corrupt, p.pem["A"]), "H.1": p.pem["B"]}, ""},
		{"headers on the certificate", map[string]any{"H.0": headerA, "H.1": p.pem["B"]}, ""},
		{"headers on a CRL beside the certificate", map[string]any{"H.0": cat(p.pem["A"], p.crlHdrA), "H.1": p.pem["B"]}, "AB"},
		{"a root of another hash in the file", map[string]any{"H.0": cat(p.pem["X"], p.pem["A"])}, "A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, v := range tc.files {
				name = strings.NewReplacer("H", p.hash, "O", p.hashOld).Replace(name)
				if target, ok := v.(string); ok {
					testutil.Symlink(t, target, filepath.Join(dir, name))
				} else {
					testutil.WriteFile(t, dir, name, v.([]byte))
				}
			}
			files, err := LookupDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			got := lookupFinds(files, map[string][]byte{"A": p.a.Cert.Raw, "B": p.b.Cert.Raw, "X": p.x.Cert.Raw, "C": pemDER(t, p.crlA)})
			ref := ""
			for _, root := range []string{"A", "B", "X"} {
				if testutil.OpenSSLVerify(t, p.leaves[root], testutil.VerifyFiles{CApath: dir}).OK {
					ref += root
				}
			}
			if testutil.OpenSSLVerify(t, p.leaves["A"], testutil.VerifyFiles{CApath: dir, CRLCheck: true}).OK {
				ref += "C"
			}
			if ref != tc.found {
				t.Errorf("openssl verify -CApath finds %q; this case is about finding %q", ref, tc.found)
			}
			if got != ref {
				t.Errorf("LookupDir finds %q, openssl verify -CApath %q", got, ref)
			}
			checkCAFiles(t, dir, p)
		})
	}
}

// lookupFinds names the objects of want (DER by A, B, X for the roots, C
// for the CRL) that files find, in that order.
func lookupFinds(files []LookupFile, want map[string][]byte) string {
	out := ""
	for _, n := range []string{"A", "B", "X", "C"} {
		if slices.ContainsFunc(files, func(f LookupFile) bool {
			return slices.ContainsFunc(f.Found(), func(o *Object) bool { return bytes.Equal(o.DER, want[n]) })
		}) {
			out += n
		}
	}
	return out
}

// checkCAFiles: every regular file of dir, read as a cafile, trusts A for
// ParseInfos exactly when it does for `openssl verify -CAfile`.
func checkCAFiles(t *testing.T, dir string, p *lookupPKI) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		infos, err := ParseInfos(testutil.ReadFile(t, path))
		got := err == nil && slices.ContainsFunc(infos, func(i Info) bool { return i.Cert != nil && bytes.Equal(i.Cert.DER, p.a.Cert.Raw) })
		ref := testutil.OpenSSLVerify(t, p.leaves["A"], testutil.VerifyFiles{CAfile: path}).OK
		if got != ref {
			t.Errorf("%s as a cafile: ParseInfos trusts A: %v (%v), openssl verify -CAfile: %v", e.Name(), got, err, ref)
		}
	}
}

func pemDER(t *testing.T, data []byte) []byte {
	objs, err := loadObjects(data, CRL)
	if err != nil || len(objs) != 1 {
		t.Fatalf("CRL: %v", err)
	}
	return objs[0].DER
}

// TestLookupStops: the last file Lookup returns says why the lookup stops
// there, and a name that is not there ends the list without an entry.
func TestLookupStops(t *testing.T) {
	p := newLookupPKI(t)
	h, err := SubjectHash(p.a.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testutil.WriteFile(t, dir, p.hash+".0", p.pem["A"])
	testutil.WriteFile(t, dir, p.hash+".1", p.derA)
	testutil.WriteFile(t, dir, p.hash+".2", p.pem["B"])
	files := Lookup(dir, h, false)
	if len(files) != 2 || files[0].Err != nil || files[1].Err == nil || !strings.Contains(files[1].Err.Error(), ErrPEMOnly.Error()) {
		t.Fatalf("Lookup: %+v", files)
	}
	fi, err := os.Stat(filepath.Join(dir, p.hash+".2"))
	if err != nil {
		t.Fatal(err)
	}
	if Reaches(files, fi) {
		t.Error("the lookup reaches the file after the DER one")
	}
	if files := Lookup(dir, h, true); len(files) != 0 {
		t.Errorf("CRL lookup: %+v", files)
	}
	if _, err := x509.ParseCertificate(files[0].Found()[0].DER); err != nil {
		t.Errorf("Found()'s DER: %v", err)
	}
}
