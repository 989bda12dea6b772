package truststore

import (
	"bytes"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/testutil"
)

// TestHugeFileInStore: a 100 MB file named *.pem in a dir: store is left
// out with a warning naming it, without being read (bounded time and
// memory); in Debian's local directory (where update-ca-certificates would
// paste it into the bundle) it is one clear error and the store is left as
// it was.
// runTrust runs certinit trust with args to its end and returns what it
// did and its peak RSS in KiB (testutil.PeakRSS).
func runTrust(t *testing.T, args ...string) (testutil.Result, int64) {
	t.Helper()
	cmd := testutil.CertinitCommand(t, append([]string{"trust"}, args...)...)
	rss := testutil.PeakRSS(t, cmd)
	r := testutil.Run(t, cmd)
	return r, rss()
}

func TestHugeFileInStore(t *testing.T) {
	in := t.TempDir()
	f, _ := writeCA(t, in, "new.pem", "Beside Huge CA")
	huge := func(p string) {
		t.Helper()
		testutil.Mkdir(t, filepath.Dir(p))
		w, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		block := bytes.Repeat(testutil.CertPEM(testutil.NewCA(t, "Repeated CA").Cert), 128)
		for n := 0; n < 100<<20; n += len(block) {
			if _, err := w.Write(block); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
	}
	t.Run("dir", func(t *testing.T) {
		root := t.TempDir()
		huge(filepath.Join(root, "capath/huge.pem"))
		r, rss := runTrust(t, "install", "--root", root, "--store", "dir:/capath", f)
		t.Logf("install beside a 100 MB file: exit %d in %v, peak RSS %d KiB", r.Code, r.Took, rss)
		warned := r.Logs.Matching(testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.HasAttr("path", "/capath/huge.pem")))
		if r.Code != 0 || len(warned) == 0 {
			t.Errorf("exit %d, want 0 and a warning naming huge.pem:\n%s", r.Code, r.Stderr)
		}
		if r.Took > 20*time.Second || rss > 64<<10 {
			t.Errorf("took %v and %d KiB: the huge file was read", r.Took, rss)
		}
		s := openStore(t, root, "dir:/capath")
		if n := len(bundleCerts(t, s.BundlePath())); n != 1 {
			t.Errorf("bundle holds %d certificates, want 1", n)
		}
		checkConsistent(t, s)
	})
	t.Run("debian", func(t *testing.T) {
		root := t.TempDir()
		install(t, openStore(t, root, "debian"), testutil.WriteFile(t, in, "first.pem", testutil.CertPEM(testutil.NewCA(t, "First CA").Cert)))
		huge(filepath.Join(root, "usr/local/share/ca-certificates/huge.crt"))
		before := testutil.TreeDigest(t, root, false)
		r, rss := runTrust(t, "install", "--root", root, "--store", "debian", f)
		t.Logf("install beside a 100 MB .crt: exit %d in %v, peak RSS %d KiB", r.Code, r.Took, rss)
		if lines := r.Logs.Lines(); r.Code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "huge.crt") || !strings.Contains(lines[0], "larger than 64 MiB") {
			t.Errorf("exit %d, want 1 and one error line naming huge.crt:\n%s", r.Code, r.Stderr)
		}
		if r.Took > 20*time.Second || rss > 64<<10 {
			t.Errorf("took %v and %d KiB: the huge file was read", r.Took, rss)
		}
		if after := testutil.TreeDigest(t, root, false); after != before {
			t.Errorf("store changed:\n%s", testutil.DiffLines(before, after))
		}
	})
}

// TestHugeInputBundle installs one PEM file with 100,000 CA certificates
// (1,000 in the default run) into a dir: store: every one ends up in the
// store and the bundle, each with its hash link, in time linear in the
// count.
func TestHugeInputBundle(t *testing.T) {
	n := testutil.Scale(1000, 100000)
	in := t.TempDir()
	ca := testutil.NewCA(t, "Bundle Issuer")
	var buf bytes.Buffer
	var probe string
	for i := range n {
		c, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: fmt.Sprintf("Bundle Sub CA %d", i)}, IsCA: true})
		buf.Write(testutil.CertPEM(c))
		if i == n/2 {
			probe = testutil.WriteFile(t, in, "probe.pem", testutil.CertPEM(c))
		}
	}
	buf.Write(testutil.CertPEM(ca.Cert))
	f := testutil.WriteFile(t, in, "bundle.pem", buf.Bytes())
	root := t.TempDir()
	r, rss := runTrust(t, "install", "--root", root, "--store", "dir:/capath", f)
	t.Logf("install of %d certificates (%d MiB): exit %d in %v, peak RSS %d MiB", n+1, buf.Len()>>20, r.Code, r.Took, rss>>10)
	if r.Code != 0 {
		t.Fatalf("exit %d:\n%s", r.Code, testutil.LastLines(r.Stderr, 5))
	}
	if took := r.Took; took > time.Duration(n)*10*time.Millisecond+10*time.Second { // linear; each file is fsynced
		t.Errorf("took %v for %d certificates", took, n)
	}
	s := openStore(t, root, "dir:/capath")
	if got := len(bundleCerts(t, s.BundlePath())); got != n+1 {
		t.Errorf("bundle holds %d certificates, want %d", got, n+1)
	}
	if got := len(testutil.Links(t, filepath.Join(root, "capath"))); got != n+1 {
		t.Errorf("%d hash links, want %d", got, n+1)
	}
	verifyCApath(t, filepath.Join(root, "capath"), probe)
}

// TestLongSubjectCA installs a CA whose subject is about 64 KiB: its hash
// link has the name openssl computes, and openssl finds it through the
// link.
func TestLongSubjectCA(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	in := t.TempDir()
	var ous []string
	for i := range 1500 {
		ous = append(ous, fmt.Sprintf("Organisational Unit Number %016d", i))
	}
	for name, subj := range map[string]pkix.Name{
		"one-cn":   {CommonName: strings.Repeat("Long Subject ", 64<<10/13)},
		"many-ous": {CommonName: "Many OUs", OrganizationalUnit: ous},
	} {
		t.Run(name, func(t *testing.T) {
			ca := testutil.NewCA(t, "unused")
			c, _ := ca.Issue(t, testutil.CertOpts{Subject: subj, IsCA: true})
			if len(c.RawSubject) < 60<<10 {
				t.Fatalf("subject of %d bytes", len(c.RawSubject))
			}
			// Self-signed would need its own key; a CA issued by another
			// is installed with its issuer, as a chain.
			f := testutil.WriteFile(t, in, name+".pem", testutil.CertPEM(c, ca.Cert))
			root := t.TempDir()
			install(t, openStore(t, root, "dir:/capath"), f)
			out, err := exec.Command(openssl, "x509", "-noout", "-subject_hash", "-in", f).Output()
			if err != nil { // not testutil.SubjectHash: a refusal is an answer here
				t.Skipf("openssl does not load a %d-byte subject: %v", len(c.RawSubject), err)
			}
			want := strings.TrimSpace(string(out)) + ".0"
			if got := testutil.Links(t, filepath.Join(root, "capath"))[want]; got != stableName(c)+".pem" {
				t.Errorf("link %s -> %q, want the long-subject CA's file", want, got)
			}
			verifyCApath(t, filepath.Join(root, "capath"), testutil.WriteFile(t, in, name+"-alone.pem", testutil.CertPEM(c)))
		})
	}
}

// TestHashCollisionOverflow: more than 256 distinct CAs with one subject
// (different keys, same name, same hash). The reference is what Debian's
// update-ca-certificates does, running openssl rehash under sh -e: the
// links are exactly the ones openssl rehash makes (HASH.0 to HASH.255, the
// others still made), the rehash fails, and the tool stops before it
// replaces the bundle. certinit's install makes the same links, returns an
// error naming each certificate left without a link, and leaves the
// bundle as it was; in a Debian store byte for byte as the tool does.
func TestHashCollisionOverflow(t *testing.T) {
	n := testutil.Scale(hashlink.MaxCollisions+4, hashlink.MaxCollisions+40)
	in := t.TempDir()
	var buf bytes.Buffer
	for range n {
		buf.Write(testutil.CertPEM(testutil.NewCA(t, "Colliding Root").Cert))
	}
	colliding := testutil.WriteFile(t, in, "colliding.pem", buf.Bytes())
	base, _ := writeCA(t, in, "base.pem", "Base Before The Collisions")
	// overflowInstall installs the colliding CAs into a store holding the
	// base CA and checks certinit's side; it returns the root.
	overflowInstall := func(t *testing.T, root, spec string) *Store {
		logs, log := testutil.NewLogs(t)
		s, err := Open(root, spec, log)
		if err != nil {
			t.Fatal(err)
		}
		install(t, s, base)
		before, err := os.ReadFile(s.BundlePath())
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Install(t.Context(), []string{colliding}, InstallOptions{})
		var joined interface{ Unwrap() []error }
		if !errors.Is(err, hashlink.ErrTooManyCollisions) || !errors.As(err, &joined) || len(joined.Unwrap()) != n-hashlink.MaxCollisions {
			t.Fatalf("install: %v; want %d errors wrapping ErrTooManyCollisions", err, n-hashlink.MaxCollisions)
		}
		if got := logs.Matching(testutil.AtLevel(slog.LevelError)); len(got) != n-hashlink.MaxCollisions {
			t.Errorf("%d error records, want one per certificate left without a link (%d)", len(got), n-hashlink.MaxCollisions)
		}
		if after, _ := os.ReadFile(s.BundlePath()); !bytes.Equal(after, before) {
			t.Error("the bundle changed although the rehash failed")
		}
		// The next run meets the same overflow: the failure is not lost.
		if _, err := s.Install(t.Context(), []string{colliding}, InstallOptions{}); !errors.Is(err, hashlink.ErrTooManyCollisions) {
			t.Errorf("second install: %v, want the overflow again", err)
		}
		checkConsistent(t, s)
		return s
	}
	t.Run("dir", func(t *testing.T) {
		s := overflowInstall(t, t.TempDir(), "dir:/capath")
		d := s.root.host("/capath")
		got := testutil.Links(t, d)
		if len(got) != hashlink.MaxCollisions+1 {
			t.Errorf("%d links, want %d", len(got), hashlink.MaxCollisions+1)
		}
		ref := t.TempDir()
		testutil.CopyTree(t, d, ref)
		for n := range got {
			os.Remove(filepath.Join(ref, n))
		}
		os.Remove(filepath.Join(ref, dirBundleName))
		if code := testutil.OpenSSLRehashCode(t, ref); code == 0 {
			t.Error("openssl rehash did not fail on the overflow")
		}
		if diff := testutil.DiffMaps(testutil.Links(t, ref), got); diff != "" {
			t.Errorf("links differ from openssl rehash (- openssl only, + certinit only):\n%s", diff)
		}
	})
	t.Run("debian", func(t *testing.T) {
		stock := stockDebianRoot(t)
		root := t.TempDir()
		testutil.CopyTree(t, stock, root)
		overflowInstall(t, root, "debian")
		ref := t.TempDir()
		testutil.CopyTree(t, stock, ref)
		install(t, openStore(t, ref, "debian"), base)
		local := "usr/local/share/ca-certificates"
		testutil.CopyTree(t, filepath.Join(root, local), filepath.Join(ref, local))
		if out, err := debianToolRun(t, ref); err == nil {
			t.Errorf("update-ca-certificates did not fail on the overflow:\n%s", out)
		}
		if want, got := testutil.TreeDigest(t, filepath.Join(ref, certsDir), false), testutil.TreeDigest(t, filepath.Join(root, certsDir), false); want != got {
			t.Errorf("/etc/ssl/certs differs from update-ca-certificates':\n%s", testutil.DiffLines(want, got))
		}
	})
}
