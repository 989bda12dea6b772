package reload

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// errBadAnchor is what a failing hook returns in TestChanged.
var errBadAnchor = errors.New("bad anchor")

func TestChanged(t *testing.T) {
	tests := []struct {
		name     string
		config   func(f *fixture, c *Config)
		change   func(f *fixture) []string // returns the changed paths
		wantErr  error                     // nil: the change is accepted, unless wantPath is set
		wantPath string                    // the file the refusal names, for refusals without a sentinel
		wantDone []string
	}{
		{
			name:     "renewed pair is signalled",
			change:   func(f *fixture) []string { f.writePair(testutil.CertOpts{}); return []string{f.cert, f.key} },
			wantDone: []string{"signal hangup"},
		},
		{
			name:   "key of another pair is refused",
			change: func(f *fixture) []string { _, k := f.writePairKeyOnly(); return []string{k} },
			// The old certificate stays with a new key.
			wantErr: pemfile.ErrKeyMismatch,
		},
		{
			name: "expired certificate is refused",
			change: func(f *fixture) []string {
				f.writePair(testutil.CertOpts{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
				return []string{f.cert, f.key}
			},
			wantErr: pemfile.ErrExpired,
		},
		{
			name: "half-written certificate is refused",
			change: func(f *fixture) []string {
				certPEM, _ := f.writePair(testutil.CertOpts{})
				testutil.WriteFile(f.t, filepath.Dir(f.cert), filepath.Base(f.cert), certPEM[:len(certPEM)/2])
				return []string{f.cert}
			},
			wantPath: "fullchain.pem",
		},
		{
			name:    "chain to an unknown CA is refused when roots are known",
			config:  func(f *fixture, c *Config) { c.Roots = []string{f.otherCA()} },
			change:  func(f *fixture) []string { f.writePair(testutil.CertOpts{}); return []string{f.cert} },
			wantErr: ErrChain,
		},
		{
			name:     "chain to the known CA is accepted",
			config:   func(f *fixture, c *Config) { c.Roots = []string{f.cafile} },
			change:   func(f *fixture) []string { f.writePair(testutil.CertOpts{}); return []string{f.cert} },
			wantDone: []string{"signal hangup"},
		},
		{
			name:     "restart-on file restarts",
			config:   func(f *fixture, c *Config) { c.RestartOn = []string{f.cafile} },
			change:   func(f *fixture) []string { f.rewriteCA(); return []string{f.cafile} },
			wantDone: []string{"restart"},
		},
		{
			name:   "half-written restart-on file is refused",
			config: func(f *fixture, c *Config) { c.RestartOn = []string{f.cafile} },
			change: func(f *fixture) []string {
				pem := testutil.CertPEM(f.ca.Cert)
				testutil.WriteFile(f.t, f.dir, "ca.pem", pem[:len(pem)-40])
				return []string{f.cafile}
			},
			wantPath: "ca.pem",
		},
		{
			name:   "restart-on file OpenSSL reads nothing from is refused",
			config: func(f *fixture, c *Config) { c.RestartOn = []string{f.cafile} },
			change: func(f *fixture) []string {
				pem := bytes.Replace(testutil.CertPEM(f.ca.Cert), []byte("-----\n"), []byte("-----\nComment: a header OpenSSL refuses\n\n"), 1)
				testutil.WriteFile(f.t, f.dir, "ca.pem", pem)
				if out, err := exec.Command(testutil.RequireTool(f.t, "openssl"), "x509", "-noout", "-in", f.cafile).CombinedOutput(); err == nil {
					f.t.Fatalf("openssl reads the certificate despite its header: the case tests nothing\n%s", out)
				}
				return []string{f.cafile}
			},
			wantPath: "ca.pem",
		},
		{
			name:     "other reload signal",
			config:   func(f *fixture, c *Config) { c.Signal = syscall.SIGUSR1 },
			change:   func(f *fixture) []string { f.writePair(testutil.CertOpts{}); return []string{f.cert} },
			wantDone: []string{"signal user defined signal 1"},
		},
		{
			name: "failing hook refuses",
			config: func(f *fixture, c *Config) {
				c.Hooks = []Hook{{Name: "trust", Run: func(context.Context, []string) error { return errBadAnchor }}}
			},
			change:  func(f *fixture) []string { f.writePair(testutil.CertOpts{}); return []string{f.cert} },
			wantErr: errBadAnchor,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rec := &recorder{}
			cfg := Config{Files: Files{Cert: f.cert, Key: f.key}}
			if tc.config != nil {
				tc.config(f, &cfg)
			}
			r := New(cfg, rec)
			err := r.Changed(context.Background(), tc.change(f))
			if tc.wantErr != nil || tc.wantPath != "" {
				switch {
				case err == nil:
					t.Fatal("Changed accepted the change")
				case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
					t.Fatalf("Changed: %v, want %v", err, tc.wantErr)
				case tc.wantPath != "" && (!strings.HasPrefix(filepath.Base(strings.SplitN(err.Error(), ":", 2)[0]), tc.wantPath) || strings.Contains(err.Error(), "\n")):
					t.Fatalf("Changed: %q, want one line naming %s first", err, tc.wantPath)
				}
				if got := rec.take(); len(got) != 0 {
					t.Fatalf("refused change still did %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.take(); !slices.Equal(got, tc.wantDone) {
				t.Fatalf("did %q, want %q", got, tc.wantDone)
			}
		})
	}
}

// TestRefusedThenFixed: a refused change is remembered; the next good
// change does what it would have done (here: restart for the CA file), and
// the copy is updated only by the good change.
func TestRefusedThenFixed(t *testing.T) {
	f := newFixture(t)
	rec := &recorder{}
	copyDir := filepath.Join(f.dir, "copy")
	r := New(Config{Files: Files{Cert: f.cert, Key: f.key}, CopyTo: copyDir, RestartOn: []string{f.cafile}}, rec)
	ctx := context.Background()

	good, _ := f.writePair(testutil.CertOpts{})
	if err := r.Changed(ctx, []string{f.cert, f.key}); err != nil {
		t.Fatal(err)
	}
	rec.take()
	f.rewriteCA()
	f.writePairKeyOnly()
	if err := r.Changed(ctx, []string{f.cafile, f.key}); err == nil {
		t.Fatal("mismatched pair accepted")
	}
	if got := testutil.ReadFile(t, filepath.Join(copyDir, "fullchain.pem")); !bytes.Equal(got, good) {
		t.Fatal("refused change touched the copy")
	}
	fixed, _ := f.writePair(testutil.CertOpts{})
	if err := r.Changed(ctx, []string{f.cert, f.key}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"restart"}) {
		t.Fatalf("after the fix did %q, want the pending restart", got)
	}
	if got := testutil.ReadFile(t, filepath.Join(copyDir, "fullchain.pem")); !bytes.Equal(got, fixed) {
		t.Fatal("copy not updated by the good change")
	}
}

func TestCopyOwnerAndModes(t *testing.T) {
	testutil.RequireRoot(t)
	f := newFixture(t)
	snap, err := Load(Files{Cert: f.cert, Key: f.key}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec    string
		keyMode os.FileMode
		gid     int // -1: left as created (root's)
	}{
		{"4242", 0o600, -1},
		{"4242:4343", 0o640, 4343},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			o, err := owner.Parse(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "certs")
			written, err := snap.CopyTo(context.Background(), dir, o)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")}
			if !slices.Equal(written, want) {
				t.Fatalf("wrote %q, want %q", written, want)
			}
			for _, p := range written {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				mode := os.FileMode(0o644)
				if strings.HasSuffix(p, "privkey.pem") {
					mode = tc.keyMode
				}
				if fi.Mode().Perm() != mode || st.Uid != 4242 || (tc.gid >= 0 && int(st.Gid) != tc.gid) {
					t.Errorf("%s: mode %v uid %d gid %d; want %v uid 4242 gid %d", p, fi.Mode().Perm(), st.Uid, st.Gid, mode, tc.gid)
				}
			}
		})
	}
}

func TestWaitForPair(t *testing.T) {
	dir := t.TempDir()
	files := Files{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	t.Run("missing without wait", func(t *testing.T) {
		_, err := WaitForPair(context.Background(), files, nil, 0, nil)
		if err == nil || !strings.Contains(err.Error(), files.Cert) {
			t.Fatalf("err = %v, want one naming %s", err, files.Cert)
		}
	})
	t.Run("timeout names the last reason", func(t *testing.T) {
		_, err := WaitForPair(context.Background(), files, nil, 300*time.Millisecond, nil)
		if err == nil || !strings.Contains(err.Error(), "waited 300ms") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("pair written later", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := WaitForPair(context.Background(), files, nil, 20*time.Second, nil)
			done <- err
		}()
		ca := testutil.NewCA(t, "wait CA")
		c, k := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "x"}})
		testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, k))
		testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(c))
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("WaitForPair did not return")
		}
	})
}

func TestConfigCheck(t *testing.T) {
	o := &owner.Owner{UID: 1, GID: -1}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty is fine", Config{}, ""},
		{"cert without key", Config{Files: Files{Cert: "c"}}, "--cert and --key"},
		{"copy without pair", Config{CopyTo: "/x"}, "--copy-to needs"},
		{"owner without copy", Config{Files: Files{Cert: "c", Key: "k"}, Owner: o}, "--owner"},
		{"same base names", Config{Files: Files{Cert: "a/tls.pem", Key: "b/tls.pem"}, CopyTo: "/x"}, "both called tls.pem"},
		{"complete", Config{Files: Files{Cert: "a/tls.crt", Key: "a/tls.key", Chain: "a/chain.pem"}, CopyTo: "/x", Owner: o}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Check()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Check() = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestUnreadableRefused: a FIFO, a device, a directory or an oversized
// file where the pair or a watched file was is refused with one error
// naming it, without blocking; nothing is signalled or copied; a watched
// path that is a directory or gone is not judged; and once the file is
// a good one again, the change goes through.
func TestUnreadableRefused(t *testing.T) {
	for _, k := range testutil.UnreadableFiles {
		for _, where := range []string{"certificate", "watched file"} {
			t.Run(k.Name+" as "+where, func(t *testing.T) {
				f := newFixture(t)
				rec := &recorder{}
				watched := filepath.Join(f.dir, "acl.conf")
				copyDir := filepath.Join(f.dir, "copy")
				r := New(Config{Files: Files{Cert: f.cert, Key: f.key}, CopyTo: copyDir, Log: testutil.Logger(t)}, rec)
				bad := map[string]string{"certificate": f.cert, "watched file": watched}[where]
				os.Remove(bad)
				k.Make(t, bad)

				err := changedWithin(t, r, []string{bad})
				refused := !(where == "watched file" && k.Name == "directory")
				switch {
				case !refused:
					if got := rec.take(); err != nil || len(got) != 1 {
						t.Fatalf("a watched directory was judged: %v, did %q", err, got)
					}
				case refused && (err == nil || !strings.HasPrefix(err.Error(), bad+": ") || strings.Count(err.Error(), bad) != 1):
					t.Fatalf("Changed: %v, want an error naming %s once, first", err, bad)
				case refused:
					if got := rec.take(); len(got) != 0 {
						t.Fatalf("refused change did %q", got)
					}
					if _, err := os.Stat(copyDir); err == nil {
						t.Fatal("refused change was copied")
					}
				}

				if err := os.RemoveAll(bad); err != nil {
					t.Fatal(err)
				}
				f.writePair(testutil.CertOpts{})
				if where == "watched file" {
					testutil.WriteFile(t, f.dir, "acl.conf", []byte("user a\n"))
				}
				if err := changedWithin(t, r, []string{f.cert, f.key}); err != nil {
					t.Fatalf("good change after the refusal: %v", err)
				}
				if got := rec.take(); len(got) != 1 {
					t.Fatalf("good change did %q, want one signal", got)
				}
			})
		}
	}
}

// changedWithin is r.Changed, failing the test if it blocks.
func changedWithin(t *testing.T, r *Reloader, paths []string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Changed(context.Background(), paths) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("Changed(%v) blocked", paths)
		return nil
	}
}
