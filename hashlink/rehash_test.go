package hashlink

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/testutil"
)

// The tests in this file run the real `openssl rehash` and Rehash on two
// copies of the same directory and compare the resulting symlinks.

// hashLinks returns name -> target of the hash links in dir.
func hashLinks(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := testutil.Links(t, dir)
	for name := range m {
		if _, ok := ParseLinkName(name); !ok {
			delete(m, name)
		}
	}
	return m
}

// opensslArgs are the flags of openssl rehash that match o.
func opensslArgs(o Options) []string {
	var a []string
	if o.Old {
		a = append(a, "-old")
	}
	if o.Compat {
		a = append(a, "-compat")
	}
	if o.NoRemove {
		a = append(a, "-n")
	}
	return a
}

// compareRehash rehashes two copies of template, one with openssl and one
// with Rehash, and fails on any difference in the symlinks. It returns the
// Result and error of Rehash.
func compareRehash(t *testing.T, template string, opts Options) (*Result, error) {
	t.Helper()
	ref, ours := t.TempDir(), t.TempDir()
	testutil.CopyTree(t, template, ref)
	testutil.CopyTree(t, template, ours)
	testutil.OpenSSLRehashCode(t, ref, opensslArgs(opts)...) // it fails where Rehash does; the links are compared
	opts.Log = testutil.Logger(t)
	res, err := Rehash(t.Context(), ours, opts)
	if d := testutil.DiffMaps(testutil.Links(t, ref), testutil.Links(t, ours)); d != "" {
		t.Errorf("links differ from openssl rehash %v (- openssl only, + certinit only):\n%s", opensslArgs(opts), d)
	}
	if res != nil {
		reported := map[string]string{}
		for _, l := range res.Links {
			reported[l.Name] = l.Target
		}
		if d := testutil.DiffMaps(reported, hashLinks(t, ours)); d != "" {
			t.Errorf("Result.Links differ from the hash links on disk (- reported only, + on disk only):\n%s", d)
		}
	}
	return res, err
}

func TestRehashMozilla(t *testing.T) {
	const src = "/usr/share/ca-certificates/mozilla"
	testutil.RequireFile(t, src, src+" missing: install ca-certificates (make deps)")
	for _, opts := range []Options{{}, {Compat: true}} {
		t.Run(strings.Join(append([]string{"default"}, opensslArgs(opts)...), " "), func(t *testing.T) {
			res, err := compareRehash(t, src, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Links) < 100 {
				t.Fatalf("only %d links", len(res.Links))
			}
		})
	}
}

func TestRehashCorpus(t *testing.T) {
	for _, opts := range []Options{{}, {Old: true}} {
		t.Run(strings.Join(append([]string{"default"}, opensslArgs(opts)...), " "), func(t *testing.T) {
			if _, err := compareRehash(t, filepath.Join("testdata", "corpus"), opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// messyDir builds a directory with everything rehash must get right.
func messyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	serial := int64(0)
	cert := func(cn string) []byte { serial++; return certPEM(t, s, cnName(cn), serial) }
	der := func(pemBytes []byte) []byte {
		i := bytes.Index(pemBytes, []byte("\n"))
		j := bytes.Index(pemBytes, []byte("-----END"))
		out, err := decodeBase64(pemBytes[i+1 : j])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	crlDER, err := s.CRL(cg.Name(cg.Simple(cg.OIDCommonName, cg.TagUTF8String, "Messy A")))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cert("Messy A"), cert("Messy B")
	key := testutil.KeyPEM(t, testutil.NewCA(t, "k").Key)
	files := map[string][]byte{
		"a.pem":       a,
		"a-copy.crt":  a, // duplicate: sorts first, so it wins
		"b.PEM":       b,
		"c.cer":       cert("Messy C"),
		"coll1.pem":   cert("Collide"),
		"coll2.crt":   cert("Collide"),
		"coll3.pem":   cert("Collide"),
		"crl.crl":     cg.PEM("X509 CRL", crlDER),
		"crl-dup.pem": cg.PEM("X509 CRL", crlDER),
		"bundle.pem":  append(cert("Bundle 1"), cert("Bundle 2")...),
		"key.pem":     key,
		"certkey.pem": append(cert("With Key"), key...),
		"keycert.pem": append(append([]byte{}, key...), cert("Key First")...),
		"garbage.pem": []byte("this is not a certificate\n"),
		"corrupt.pem": []byte("-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n"),
		"der.crt":     der(cert("DER Only")),
		"empty.cer":   {},
		"readme.txt":  cert("Wrong Extension"),
		"noext":       cert("No Extension"),
		"trusted.pem": bytes.ReplaceAll(cert("Trusted Form"), []byte("CERTIFICATE"), []byte("TRUSTED CERTIFICATE")),
		"crlcert.pem": append(cg.PEM("X509 CRL", crlDER), cert("After CRL")...),
		"0badf00d.0":  cert("Regular File With Link Name"),
	}
	// PEM variants: what OpenSSL's reader accepts and what it refuses.
	variants := map[string]func([]byte) []byte{
		"v-crlf.pem": func(p []byte) []byte { return bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n")) },
		"v-text.pem": func(p []byte) []byte {
			return append(append([]byte("# Issuer: x\nsubject=/CN=x\n"), p...), "trailer\n"...)
		},
		"v-indented.pem": func(p []byte) []byte { return append([]byte(" "), p...) },
		"v-noend.pem":    func(p []byte) []byte { return p[:bytes.Index(p, []byte("-----END"))] },
		"v-mismatch.pem": func(p []byte) []byte { return bytes.Replace(p, []byte("END CERTIFICATE"), []byte("END X509 CRL"), 1) },
		"v-headers.pem": func(p []byte) []byte {
			return bytes.Replace(p, []byte("-----\n"), []byte("-----\nProc-Type: 4,ENCRYPTED\n\n"), 1)
		},
		"v-x509old.pem": func(p []byte) []byte { return bytes.ReplaceAll(p, []byte("CERTIFICATE"), []byte("X509 CERTIFICATE")) },
		"v-trailsp.pem": func(p []byte) []byte { return bytes.ReplaceAll(p, []byte("\n"), []byte("  \t\n")) },
		"v-goodbad.pem": func(p []byte) []byte {
			return append(p, "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n"...)
		},
		"v-oneline.pem": func(p []byte) []byte { return bytes.ReplaceAll(p, []byte("\n"), nil) },
		"v-other-type.pem": func(p []byte) []byte {
			return append(bytes.ReplaceAll(p, []byte("CERTIFICATE"), []byte("CERTIFICATE REQUEST")), p...)
		},
	}
	for name, f := range variants {
		files[name] = f(cert("Variant " + name))
	}
	for name, data := range files {
		testutil.WriteFile(t, dir, name, data)
	}
	outside := testutil.WriteFile(t, t.TempDir(), "outside.pem", cert("Outside"))
	bHash := testutil.SubjectHash(t, filepath.Join(dir, "b.PEM"))
	for _, l := range [][2]string{
		{"link.pem", "b.PEM"},             // a symlinked duplicate of b.PEM
		{"ext-link.pem", outside},         // a symlinked certificate elsewhere
		{"dangling.pem", "nowhere.pem"},   // cannot be opened: an error
		{"deadbeef.0", "gone.pem"},        // stale link in an unused bucket
		{"deadbeef.r1", "gone.crl"},       // stale CRL link
		{bHash + ".3", "a.pem"},           // wrong link above the needed count
		{"subdir.pem", "."},               // a directory with a candidate name
		{"DEADBEEF.2", "upper-stale.pem"}, // upper-case hex is a hash link too
	} {
		if err := os.Symlink(l[1], filepath.Join(dir, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.pem"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRehashMessy(t *testing.T) {
	template := messyDir(t)
	for _, opts := range []Options{{}, {Old: true}, {Compat: true}, {NoRemove: true}} {
		t.Run(strings.Join(append([]string{"default"}, opensslArgs(opts)...), " "), func(t *testing.T) {
			res, err := compareRehash(t, template, opts)
			if err == nil || !strings.Contains(err.Error(), "dangling.pem") {
				t.Errorf("want an error naming dangling.pem (openssl fails too), got %v", err)
			}
			for _, want := range []string{"a.pem", "bundle.pem", "garbage.pem", "corrupt.pem", "der.crt", "key.pem", "dir.pem", "link.pem", "crl.crl"} {
				if !slices.Contains(res.Skipped, want) {
					t.Errorf("%s not reported as skipped (skipped: %q)", want, res.Skipped)
				}
			}
		})
	}
}

// TestRehashTwice checks a second run on an already-linked directory, and a
// switch from old-style to new-style links, against openssl doing the same.
func TestRehashTwice(t *testing.T) {
	for _, tc := range []struct {
		name         string
		first, again Options
	}{
		{"default twice", Options{}, Options{}},
		{"old then default", Options{Old: true}, Options{}},
		{"compat then old", Options{Compat: true}, Options{Old: true}},
		{"default then -n -old", Options{}, Options{Old: true, NoRemove: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			template := messyDir(t)
			testutil.OpenSSLRehashCode(t, template, opensslArgs(tc.first)...)
			res, _ := compareRehash(t, template, tc.again)
			if tc.first == tc.again && (len(res.Added) != 0 || len(res.Removed) != 0) {
				t.Errorf("second run changed links: added %v, removed %v", res.Added, res.Removed)
			}
		})
	}
}
