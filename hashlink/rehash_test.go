package hashlink

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/testutil"
)

// The tests in this file run the real `openssl rehash` and Rehash on two
// copies of the same directory and compare the resulting symlinks.

// symlinks lists every symlink in dir as "name -> target", sorted.
func symlinks(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Name()+" -> "+target)
	}
	return out
}

// copyDir copies regular files, directories and symlinks (as links).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, data, 0o644)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// opensslRehash runs `openssl rehash args... dir` and returns its exit code.
func opensslRehash(t *testing.T, dir string, args ...string) int {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	cmd := exec.Command(openssl, append(append([]string{"rehash"}, args...), dir)...)
	out, err := cmd.CombinedOutput()
	if len(out) > 0 {
		t.Logf("openssl rehash: %s", bytes.TrimSpace(out))
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

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
	copyDir(t, template, ref)
	copyDir(t, template, ours)
	opensslRehash(t, ref, opensslArgs(opts)...)
	opts.Log = testutil.Logger(t)
	res, err := Rehash(t.Context(), ours, opts)
	want, got := symlinks(t, ref), symlinks(t, ours)
	if !slices.Equal(want, got) {
		t.Errorf("links differ from openssl rehash %v\nopenssl:  %q\ncertinit: %q", opensslArgs(opts), want, got)
	}
	if res != nil {
		var hashLinks []string
		for _, l := range res.Links {
			hashLinks = append(hashLinks, l.Name+" -> "+l.Target)
		}
		var onDisk []string
		for _, l := range got {
			if _, ok := ParseLinkName(strings.SplitN(l, " -> ", 2)[0]); ok {
				onDisk = append(onDisk, l)
			}
		}
		if !slices.Equal(hashLinks, onDisk) {
			t.Errorf("Result.Links %q, on disk %q", hashLinks, onDisk)
		}
	}
	return res, err
}

func TestRehashMozilla(t *testing.T) {
	const src = "/usr/share/ca-certificates/mozilla"
	if _, err := os.Stat(src); err != nil {
		if testutil.InCI() {
			t.Fatalf("%s missing: install ca-certificates (make deps)", src)
		}
		t.Skipf("%s missing", src)
	}
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
	cert := func(cn string) []byte {
		serial++
		der, err := s.Certificate(cg.Cert{Subject: cg.Name(cg.Simple(cg.OIDCommonName, cg.TagUTF8String, cn)), Serial: serial})
		if err != nil {
			t.Fatal(err)
		}
		return cg.PEM("CERTIFICATE", der)
	}
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
	bHash := mustHash(t, b)
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

func mustHash(t *testing.T, pemBytes []byte) string {
	t.Helper()
	objs, err := ParseObjects(pemBytes)
	if err != nil || len(objs) != 1 {
		t.Fatalf("ParseObjects: %v, %d objects", err, len(objs))
	}
	return FormatHash(objs[0].Hash)
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
			opensslRehash(t, template, opensslArgs(tc.first)...)
			res, _ := compareRehash(t, template, tc.again)
			if tc.first == tc.again && (len(res.Added) != 0 || len(res.Removed) != 0) {
				t.Errorf("second run changed links: added %v, removed %v", res.Added, res.Removed)
			}
		})
	}
}
