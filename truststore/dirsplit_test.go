package truststore

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/testutil"
)

// rehashClean runs `openssl rehash -v` and then certinit's rehash on dir
// and checks that neither warns about anything nor changes a link: the
// directory is exactly what both tools would make.
func rehashClean(t *testing.T, dir string) {
	t.Helper()
	want := testutil.Links(t, dir)
	if len(want) == 0 {
		t.Fatalf("%s has no hash links", dir)
	}
	cmd := exec.Command(testutil.RequireTool(t, "openssl"), "rehash", "-v", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("openssl rehash -v: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if !strings.HasPrefix(line, "Doing ") && !strings.HasPrefix(line, "link ") {
			t.Errorf("openssl rehash -v: %q", line)
		}
	}
	if d := testutil.DiffMaps(want, testutil.Links(t, dir)); d != "" {
		t.Errorf("openssl rehash changed links (- before, + after):\n%s", d)
	}
	logs, log := testutil.NewLogs(t)
	res, err := hashlink.Rehash(context.Background(), dir, hashlink.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if w := logs.Matching(testutil.AtLevel(slog.LevelWarn)); len(w) > 0 || len(res.Skipped) > 0 {
		t.Errorf("certinit rehash warned: %v, skipped %v", w, res.Skipped)
	}
	if len(res.Added)+len(res.Removed) > 0 {
		t.Errorf("certinit rehash changed links: added %v, removed %v", res.Added, res.Removed)
	}
	if d := testutil.DiffMaps(want, testutil.Links(t, dir)); d != "" {
		t.Errorf("certinit rehash changed links (- before, + after):\n%s", d)
	}
}

// TestDirStoreRehashClean: a dir: store keeps its bundle where rehash does
// not look, so both rehash tools run clean on a freshly installed store.
func TestDirStoreRehashClean(t *testing.T) {
	in := t.TempDir()
	a, _ := writeCA(t, in, "a.pem", "Clean Root A")
	b, _ := writeCA(t, in, "b.pem", "Clean Root B")
	root := t.TempDir()
	s := openStore(t, root, "dir:/capath")
	install(t, s, a, b)
	if got := bundleCerts(t, s.BundlePath()); len(got) != 2 {
		t.Fatalf("bundle holds %d certificates, want 2", len(got))
	}
	rehashClean(t, filepath.Join(root, "capath"))
}

// TestDirSplitsBundle: a bundle (root and intermediate in one file) becomes
// one file per certificate with a link each, whether it is given to
// install from outside, given from inside the store, or found there by
// rebuild; a bundle found in the store moves to NAME.split. OpenSSL then
// verifies through the directory, and both rehash tools run clean.
func TestDirSplitsBundle(t *testing.T) {
	in := t.TempDir()
	pc := newPublicChain(t, "Bundled")
	bundle := testutil.CertPEM(pc.inter.Cert, pc.root.Cert)
	capathVerifies := func(t *testing.T, dir string) {
		t.Helper()
		ref := testutil.OpenSSLVerify(t, pc.leafFile, testutil.VerifyFiles{CApath: dir, Purpose: "sslserver"})
		if !ref.OK {
			t.Errorf("openssl verify -CApath %s: %s", dir, ref.Output)
		}
	}

	t.Run("install from outside", func(t *testing.T) {
		root := t.TempDir()
		s := openStore(t, root, "dir:/capath")
		rep := install(t, s, testutil.WriteFile(t, in, "chain.pem", bundle))
		if len(rep.Added) != 2 || len(rep.Split) != 0 {
			t.Errorf("%d added, %d split", len(rep.Added), len(rep.Split))
		}
		dir := filepath.Join(root, "capath")
		capathVerifies(t, dir)
		rehashClean(t, dir)
	})

	t.Run("install from inside", func(t *testing.T) {
		// The file given stays under its name (run --trust may watch it)
		// until a rebuild moves it aside.
		root := t.TempDir()
		dir := filepath.Join(root, "capath")
		inside := testutil.WriteFile(t, dir, "chain.pem", bundle)
		s := openStore(t, root, "dir:/capath")
		rep := install(t, s, inside)
		if len(rep.Added) != 2 || len(rep.Split) != 1 || rep.Split[0].Bundle != "/capath/chain.pem" || rep.Split[0].KeptAs != "" {
			t.Fatalf("%d added, split %+v", len(rep.Added), rep.Split)
		}
		capathVerifies(t, dir)
		if got := testutil.ReadFile(t, inside); !bytes.Equal(got, bundle) {
			t.Error("install changed the file it was given")
		}
		if again := install(t, s, inside); len(again.Added) != 0 || len(again.Split) != 1 {
			t.Errorf("second install: %d added, split %+v", len(again.Added), again.Split)
		}
		rep, err := s.Rebuild(context.Background(), false)
		if err != nil || len(rep.Split) != 1 || rep.Split[0].KeptAs != "/capath/chain.pem.split" || len(rep.Split[0].Certs) != 0 {
			t.Fatalf("rebuild: %v, split %+v", err, rep.Split)
		}
		if _, err := os.Stat(inside); !os.IsNotExist(err) {
			t.Errorf("the bundle is still at %s", inside)
		}
		if kept := testutil.ReadFile(t, inside+".split"); !bytes.Equal(kept, bundle) {
			t.Error("the kept bundle differs from the original")
		}
		capathVerifies(t, dir)
		rehashClean(t, dir)
	})

	t.Run("found by rebuild", func(t *testing.T) {
		root := t.TempDir()
		s := openStore(t, root, "dir:/capath")
		other, _ := writeCA(t, in, "other.pem", "Already There")
		install(t, s, other)
		dir := filepath.Join(root, "capath")
		testutil.WriteFile(t, dir, "chain.pem", bundle)
		rep, err := s.Rebuild(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Split) != 1 || len(rep.Split[0].Certs) != 2 {
			t.Fatalf("split %+v", rep.Split)
		}
		certs, err := s.List(context.Background())
		if err != nil || len(certs) != 3 {
			t.Errorf("list: %d certificates, %v", len(certs), err)
		}
		capathVerifies(t, dir)
		rehashClean(t, dir)
		before := testutil.TreeDigest(t, root, false)
		if rep, err := s.Rebuild(context.Background(), false); err != nil || len(rep.Split) != 0 {
			t.Errorf("second rebuild: %v, split %+v", err, rep.Split)
		}
		if after := testutil.TreeDigest(t, root, false); after != before {
			t.Errorf("second rebuild changed the store:\n%s", testutil.DiffLines(before, after))
		}
	})
}

// TestDirMigratesLegacyBundle: a dir: store written by an older certinit
// (its bundle as ca-certificates.crt, beside the certificate files, hash
// links by openssl rehash) loses that file at its next rebuild or install:
// the bundle is now ca-certificates.bundle, and rehash runs clean. A file
// of that name holding a certificate the store has nowhere else is
// somebody's certificate file, and stays.
func TestDirMigratesLegacyBundle(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	a := testutil.NewCA(t, "Legacy Root A")
	b := testutil.NewCA(t, "Legacy Root B")
	legacyStore := func(t *testing.T, legacy []byte) string {
		root := t.TempDir()
		dir := filepath.Join(root, "capath")
		testutil.WriteFile(t, dir, stableName(a.Cert)+".pem", testutil.CertPEM(a.Cert))
		testutil.WriteFile(t, dir, stableName(b.Cert)+".pem", testutil.CertPEM(b.Cert))
		testutil.WriteFile(t, dir, legacyBundleName, legacy)
		exec.Command(openssl, "rehash", dir).Run() // warns about the bundle, as it always did
		return root
	}
	for _, op := range []string{"rebuild", "install"} {
		t.Run(op, func(t *testing.T) {
			root := legacyStore(t, testutil.CertPEM(a.Cert, b.Cert))
			s := openStore(t, root, "dir:/capath")
			var rep *Report
			var err error
			if op == "rebuild" {
				rep, err = s.Rebuild(context.Background(), false)
			} else {
				c, _ := writeCA(t, t.TempDir(), "c.pem", "Legacy Root C")
				rep, err = s.Install(context.Background(), []string{c}, InstallOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "capath")
			if rep.Migrated != "/capath/"+legacyBundleName {
				t.Errorf("migrated %q", rep.Migrated)
			}
			if _, err := os.Stat(filepath.Join(dir, legacyBundleName)); !os.IsNotExist(err) {
				t.Errorf("%s is still there", legacyBundleName)
			}
			if n := len(bundleCerts(t, s.BundlePath())); n < 2 {
				t.Errorf("the new bundle holds %d certificates", n)
			}
			rehashClean(t, dir)
		})
	}
	t.Run("somebody's file", func(t *testing.T) {
		c := testutil.NewCA(t, "Not A Bundle")
		root := legacyStore(t, testutil.CertPEM(c.Cert))
		s := openStore(t, root, "dir:/capath")
		rep, err := s.Rebuild(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Migrated != "" {
			t.Errorf("migrated %q", rep.Migrated)
		}
		if n := len(bundleCerts(t, s.BundlePath())); n != 3 {
			t.Errorf("the bundle holds %d certificates, want 3", n)
		}
	})
}
