package acme

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

func caPool(t *testing.T, ca *LocalCA) *x509.CertPool {
	t.Helper()
	certs, err := pemfile.ReadCertificates(ca.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(certs[0])
	return pool
}

func localConfig(t *testing.T, names ...string) Config {
	return Config{Domains: names, Out: filepath.Join(t.TempDir(), "out"), Issuer: IssuerLocal}
}

// setClock moves nowFunc (the package's clock seam) for the test.
func setClock(t *testing.T, at time.Time) {
	old := nowFunc
	nowFunc = func() time.Time { return at }
	t.Cleanup(func() { nowFunc = old })
}

func TestLocalIssuer(t *testing.T) {
	cfg := localConfig(t, "localhost", "127.0.0.1", "broker.lan")
	iss, _ := mustNew(t, cfg)
	ca := iss.(*LocalCA)
	res := obtain(t, iss)

	for p, want := range map[string]os.FileMode{
		ca.CAFile(): 0o644, filepath.Join(filepath.Dir(ca.CAFile()), "ca-key.pem"): 0o600,
		filepath.Dir(ca.CAFile()): 0o700 | os.ModeDir,
	} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want mode %v", p, fi.Mode(), err, want)
		}
	}
	if !strings.HasPrefix(ca.CAFile(), cfg.Out+".cache") {
		t.Errorf("CA %s is not in the default cache beside %s", ca.CAFile(), cfg.Out)
	}
	leaf := checkOutput(t, cfg.Out, caPool(t, ca), ca.CAFile(), "localhost", KeyECDSA, 0o600)
	if !slices.Equal(certNames(leaf), []string{"localhost", "broker.lan", "127.0.0.1"}) {
		t.Errorf("names %v", certNames(leaf))
	}
	if out, err := exec.Command(testutil.RequireTool(t, "openssl"), "verify", "-verify_ip", "127.0.0.1",
		"-CAfile", ca.CAFile(), res.Certs[0].Files.Cert).CombinedOutput(); err != nil {
		t.Errorf("openssl verify -verify_ip: %v\n%s", err, out)
	}
	caPEM, _ := os.ReadFile(ca.CAFile())
	chainPEM, _ := os.ReadFile(res.Certs[0].Files.Chain)
	if !bytes.Equal(caPEM, chainPEM) {
		t.Errorf("chain.pem is not the local CA")
	}

	// Second run: nothing changes.
	before := snapshot(t, cfg.Out)
	iss2, _ := mustNew(t, cfg)
	if res2 := obtain(t, iss2); res2.Changed || res2.Certs[0].Serial != res.Certs[0].Serial {
		t.Errorf("second run: %+v", res2)
	}
	if !maps.Equal(before, snapshot(t, cfg.Out)) {
		t.Errorf("second run touched files")
	}

	// In the renewal window (the clock seam moved there): a new leaf from
	// the same CA.
	setClock(t, res.Certs[0].RenewAt.Add(time.Second))
	res3 := obtain(t, iss2)
	if !res3.Changed || !res3.Certs[0].Issued || res3.Certs[0].Serial == res.Certs[0].Serial {
		t.Errorf("in the renewal window: %+v", res3)
	}
	if caPEM2, _ := os.ReadFile(ca.CAFile()); !bytes.Equal(caPEM, caPEM2) {
		t.Errorf("the local CA changed on renewal")
	}
}

// TestLocalReissue: a certificate that no longer matches the configuration
// is replaced, under the same CA.
func TestLocalReissue(t *testing.T) {
	cfg := localConfig(t, "a.lan")
	cfg.KeyType = KeyECDSA
	iss, _ := mustNew(t, cfg)
	first := obtain(t, iss)
	tests := []struct {
		name   string
		modify func(c *Config)
		check  func(leaf *x509.Certificate, key any) bool
	}{
		{"names changed", func(c *Config) { c.Domains = []string{"a.lan", "b.lan"} },
			func(l *x509.Certificate, _ any) bool { return len(l.DNSNames) == 2 }},
		{"key type changed", func(c *Config) { c.KeyType = KeyRSA },
			func(l *x509.Certificate, _ any) bool { return l.PublicKeyAlgorithm == x509.RSA }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			tc.modify(&c)
			iss, _ := mustNew(t, c)
			res := obtain(t, iss)
			if !res.Certs[0].Issued || res.Certs[0].Serial == first.Certs[0].Serial {
				t.Fatalf("not reissued: %+v", res)
			}
			leaf := checkOutput(t, c.Out, caPool(t, iss.(*LocalCA)), iss.(*LocalCA).CAFile(), "a.lan", c.KeyType, 0o600)
			if !tc.check(leaf, nil) {
				t.Errorf("leaf does not reflect the change: %v %v", leaf.DNSNames, leaf.PublicKeyAlgorithm)
			}
		})
	}
}

// TestOwner: with an owner, every file belongs to it and the key is 0640.
func TestOwner(t *testing.T) {
	testutil.RequireRoot(t)
	own, err := owner.Parse("nobody:nogroup")
	if err != nil {
		t.Fatalf("Debian has nobody:nogroup: %v", err)
	}
	cfg := localConfig(t, "owned.lan")
	// t.TempDir's directories are 0700; the broker's user must traverse.
	for d := filepath.Dir(cfg.Out); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	cfg.Owner = own
	uid, gid := own.UID, own.GID
	iss, _ := mustNew(t, cfg)
	res := obtain(t, iss)
	checkOutput(t, cfg.Out, caPool(t, iss.(*LocalCA)), iss.(*LocalCA).CAFile(), "owned.lan", KeyECDSA, 0o640)
	for _, p := range res.Written {
		fi, _ := os.Stat(p)
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
	// The user can read its key: what Mosquitto needs after dropping root.
	cmd := exec.Command("cat", res.Certs[0].Files.Key)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("PRIVATE KEY")) {
		t.Errorf("%d:%d cannot read the key: %v %s", uid, gid, err, out)
	}
	// Same owner again: nothing to do. Without the owner: the files are
	// rewritten with the key back at 0600.
	if res2 := obtain(t, iss); res2.Changed {
		t.Errorf("second run with the same owner changed %v", res2.Written)
	}
	cfg.Owner = nil
	iss, _ = mustNew(t, cfg)
	if res3 := obtain(t, iss); !slices.Contains(res3.Written, res.Certs[0].Files.Key) {
		t.Errorf("dropping the owner did not rewrite the key: %v", res3.Written)
	}
	if fi, _ := os.Stat(res.Certs[0].Files.Key); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v without owner", fi.Mode().Perm())
	}
}

// TestLocalRefusals: a symlink planted in the output directory is not
// followed, and a damaged CA is reported, not replaced.
func TestLocalRefusals(t *testing.T) {
	t.Run("planted symlink", func(t *testing.T) {
		cfg := localConfig(t, "link.lan")
		victim := filepath.Join(t.TempDir(), "victim")
		os.MkdirAll(cfg.Out, 0o755)
		if err := os.Symlink(victim, filepath.Join(cfg.Out, KeyFile)); err != nil {
			t.Fatal(err)
		}
		iss, _ := mustNew(t, cfg)
		_, err := iss.Obtain(context.Background())
		if !errors.Is(err, atomicfile.ErrNotRegular) {
			t.Fatalf("err = %v, want ErrNotRegular", err)
		}
		if _, err := os.Stat(victim); !os.IsNotExist(err) {
			t.Fatalf("the write followed the symlink")
		}
	})
	t.Run("CA key missing", func(t *testing.T) {
		cfg := localConfig(t, "ca.lan")
		iss, _ := mustNew(t, cfg)
		obtain(t, iss)
		keyPath := filepath.Join(filepath.Dir(iss.(*LocalCA).CAFile()), "ca-key.pem")
		os.Remove(keyPath)
		before := snapshot(t, cfg.Out)
		setClock(t, time.Now().Add(80*24*time.Hour)) // renewal due
		_, err := iss.Obtain(context.Background())
		if err == nil || !strings.Contains(err.Error(), keyPath) {
			t.Fatalf("err = %v, want one naming %s", err, keyPath)
		}
		if !maps.Equal(before, snapshot(t, cfg.Out)) {
			t.Errorf("output changed after a CA failure")
		}
	})
}
