package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/truststore"
	"github.com/certinit/certinit/watch"
)

// TestTrustAside: the trust install runs beside the later preparation
// steps only when they share no directory with it, links resolved.
func TestTrustAside(t *testing.T) {
	root, work := t.TempDir(), t.TempDir()
	for _, d := range []string{"etc/ssl/certs", "usr/local/share/ca-certificates", "capath"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	certs := filepath.Join(root, "etc/ssl/certs")
	alias := filepath.Join(work, "alias")
	if err := os.Symlink(certs, alias); err != nil {
		t.Fatal(err)
	}
	trust := testutil.WriteFile(t, work, "ca.pem", []byte("x"))
	linked := filepath.Join(work, "linked-capath") // a capath of links into the local CA directory
	if err := os.Mkdir(linked, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "usr/local/share/ca-certificates/fleet.crt"), filepath.Join(linked, "fleet.pem")); err != nil {
		t.Fatal(err)
	}
	pair := filepath.Join(work, "pair")
	tests := []struct {
		name   string
		store  string
		rehash []string
		copyTo string
		cert   string
		acme   bool
		want   bool
	}{
		{name: "separate directories", store: "debian", rehash: []string{filepath.Join(work, "capath")}, copyTo: filepath.Join(work, "out"), cert: filepath.Join(pair, "cert.pem"), want: true},
		{name: "store inside a rehash directory's parent", store: "debian", rehash: []string{root}, want: true},
		{name: "rehash the store's certificate directory", store: "debian", rehash: []string{certs}},
		{name: "rehash it through a link", store: "debian", rehash: []string{alias}},
		{name: "copy into the store", store: "debian", copyTo: filepath.Join(root, "usr/local/share/ca-certificates")},
		{name: "copy below the local directory (read recursively)", store: "debian", copyTo: filepath.Join(root, "usr/local/share/ca-certificates/broker")},
		{name: "rehash a capath of links into the store", store: "debian", rehash: []string{linked}},
		{name: "pair in the store", store: "debian", cert: filepath.Join(certs, "server.pem")},
		{name: "copy over the trust file's directory", store: "debian", copyTo: work},
		{name: "dir: store rehashed too", store: "dir:/capath", rehash: []string{filepath.Join(root, "capath")}},
		{name: "acme", store: "debian", acme: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := truststore.Open(root, tc.store, nil)
			if err != nil {
				t.Fatal(err)
			}
			rc := &runConfig{}
			rc.integ.store, rc.integ.trust, rc.integ.rehash = s, []string{trust}, tc.rehash
			rc.reload.CopyTo, rc.reload.Files.Cert = tc.copyTo, tc.cert
			if tc.cert != "" {
				rc.reload.Files.Key = filepath.Join(filepath.Dir(tc.cert), "key.pem")
			}
			if tc.acme {
				iss, err := acme.New(acme.Config{Issuer: acme.IssuerLocal, Domains: []string{"localhost"}, Out: filepath.Join(t.TempDir(), "acme")}, nil)
				if err != nil {
					t.Fatal(err)
				}
				rc.integ.issuer = iss
			}
			if got := (&app{}).trustAside(rc); got != tc.want {
				t.Fatalf("trustAside = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestInitTrustAsideFailures: with the install beside the other steps,
// bad --trust input still stops init before anything else is done, and an
// install that fails later (a link planted where the bundle goes) is the
// error reported, though the rehash and the copy ran.
func TestInitTrustAsideFailures(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	cert, key := writeTestPair(t, dir, "cert.pem", "key.pem")
	capath, out := filepath.Join(dir, "capath"), filepath.Join(dir, "out")
	if err := os.Mkdir(capath, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, capath, "peer.pem", testutil.CertPEM(testutil.NewCA(t, "peer").Cert))
	junk := testutil.WriteFile(t, dir, "junk.pem", []byte("not a certificate\n"))
	args := []string{"init", "--root", root, "--rehash", capath, "--cert", cert, "--key", key, "--copy-to", out}

	code, _, stderr := runCLI(t, append(args, "--trust", junk)...)
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); code != 1 || len(lines) != 1 || !strings.Contains(stderr, junk) {
		t.Fatalf("bad input: exit %d, stderr %q; want 1 and one line naming %s", code, stderr, junk)
	}
	if links, _ := filepath.Glob(filepath.Join(capath, "*.0")); len(links) != 0 {
		t.Fatalf("bad input: rehash ran: %v", links)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("bad input: %s was created", out)
	}

	certs := filepath.Join(root, "etc/ssl/certs")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(certs, "ca-certificates.crt")); err != nil {
		t.Fatal(err)
	}
	ca := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(testutil.NewCA(t, "aside CA").Cert))
	code, _, stderr = runCLI(t, append(args, "--trust", ca)...)
	if code != 1 || !strings.Contains(stderr, "ca-certificates.crt") || !strings.Contains(stderr, "not a regular file") {
		t.Fatalf("planted bundle link: exit %d, stderr %q; want 1 and the install's error", code, stderr)
	}
}

// TestTrustAsideRehashSnapshot: with the install beside the other steps,
// the watcher's "before" for a --rehash directory is taken while the
// install runs, after every step that writes there (here the copy goes
// into the rehash directory too), and only when COMMAND will be watched.
func TestTrustAsideRehashSnapshot(t *testing.T) {
	for _, supervised := range []bool{true, false} {
		t.Run(fmt.Sprintf("supervised=%v", supervised), func(t *testing.T) {
			dir, root := t.TempDir(), t.TempDir()
			ca := testutil.NewCA(t, "aside CA")
			c, k := ca.Issue(t, testutil.CertOpts{})
			cert := testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(c))
			key := testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, k))
			trust := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))
			capath := filepath.Join(dir, "capath")
			testutil.WriteFile(t, capath, "peer.pem", testutil.CertPEM(testutil.NewCA(t, "peer").Cert))
			s, err := truststore.Open(root, "debian", nil)
			if err != nil {
				t.Fatal(err)
			}
			rc := &runConfig{supervised: supervised}
			rc.integ.store, rc.integ.trust, rc.integ.rehash = s, []string{trust}, []string{capath}
			rc.reload.Files = reload.Files{Cert: cert, Key: key}
			rc.reload.Roots = []string{trust}
			rc.reload.CopyTo = capath
			a := &app{log: slog.New(slog.DiscardHandler)}
			if !a.trustAside(rc) {
				t.Fatal("trustAside = false for separate directories")
			}
			if err := a.prepare(context.Background(), rc); err != nil {
				t.Fatal(err)
			}
			if !supervised {
				if rc.rehashed != nil {
					t.Fatalf("snapshot taken for init: %v", rc.rehashed)
				}
				return
			}
			if _, err := os.Stat(filepath.Join(capath, "cert.pem")); err != nil {
				t.Fatalf("the copy did not go into the rehash directory: %v", err)
			}
			if want := watch.Take([]string{capath}); !maps.Equal(rc.rehashed, want) {
				t.Fatal("the snapshot differs from the directory as the preparation left it")
			}
		})
	}
}
