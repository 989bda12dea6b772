package acme

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/testutil"
)

// acmeConfig is a Config for a Pebble, with both listeners where Pebble
// validates.
func acmeConfig(t *testing.T, p *pebbletest.Server, domains ...string) Config {
	return Config{
		Domains:      domains,
		Out:          filepath.Join(t.TempDir(), "out"),
		DirectoryURL: p.DirectoryURL,
		ACMECAFile:   p.CAFile,
		HTTPAddr:     p.HTTPAddr(),
		TLSAddr:      p.TLSAddr(),
		Email:        "ops@certinit.test",
	}
}

func TestObtainFromPebble(t *testing.T) {
	tests := []struct {
		name      string
		challenge string // the only listener; "" for both
		keyType   KeyType
		domains   []string
	}{
		{"http-01 ecdsa", "http-01", KeyECDSA, []string{"mqtt.certinit.test"}},
		{"tls-alpn-01 rsa", "tls-alpn-01", KeyRSA, []string{"broker.certinit.test"}},
		{"both listeners, two names", "", KeyECDSA, []string{"a.certinit.test", "b.certinit.test"}},
		{"TLS-ALPN-01 port taken: HTTP-01 alone", "tls port busy", KeyECDSA, []string{"busy.certinit.test"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pebbletest.Start(t, pebbletest.Options{})
			cfg := acmeConfig(t, p, tc.domains...)
			cfg.KeyType = tc.keyType
			var idle *testutil.Relay // on the port of the challenge that must not be tried: counts, relays nowhere
			switch tc.challenge {
			case "http-01":
				cfg.TLSAddr = ""
				idle = testutil.StartRelay(t, p.TLSAddr(), "")
			case "tls-alpn-01":
				cfg.HTTPAddr = ""
				idle = testutil.StartRelay(t, p.HTTPAddr(), "")
			case "tls port busy": // another program holds it
				idle = testutil.StartRelay(t, p.TLSAddr(), "")
			}
			iss, logs := mustNew(t, cfg)
			res := obtain(t, iss)

			if len(res.Certs) != 1 || !res.Changed || len(res.Written) != 4 {
				t.Fatalf("result %+v: want one certificate, all files written", res)
			}
			if idle != nil && idle.Connections() != 0 {
				t.Errorf("the CA tried the challenge without a listener %d times", idle.Connections())
			}
			if tc.challenge == "tls port busy" && len(logs.Matching(testutil.All(testutil.AtLevel(slog.LevelWarn), testutil.AttrContains("err", p.TLSAddr())))) != 1 {
				t.Errorf("no warning naming the busy port %s", p.TLSAddr())
			}
			rootFile := writeRoot(t, p.RootPEM(t))
			roots := p.Roots(t)
			// One certificate covers every name.
			for _, name := range tc.domains {
				leaf := checkOutput(t, cfg.Out, roots, rootFile, name, tc.keyType, 0o600)
				c := res.Certs[0]
				if c.Files.Cert != filepath.Join(cfg.Out, CertFile) || c.Serial != leaf.SerialNumber.Text(16) ||
					!c.NotAfter.Equal(leaf.NotAfter) || !c.Issued {
					t.Errorf("%+v does not describe %s", c, cfg.Out)
				}
			}
			if _, err := os.Stat(filepath.Join(cfg.Out+".cache", "acme")); err != nil {
				t.Errorf("default cache beside the output: %v", err)
			}

			// A second run (a restart) finds everything cached and valid:
			// no connection to the CA, no file touched.
			before := snapshot(t, cfg.Out)
			conns := p.Connections()
			iss2, _ := mustNew(t, cfg)
			res2 := obtain(t, iss2)
			if res2.Changed || len(res2.Written) != 0 || res2.Certs[0].Issued {
				t.Errorf("second run changed something: %+v", res2)
			}
			if n := p.Connections() - conns; n != 0 {
				t.Errorf("second run made %d connections to the CA", n)
			}
			if !maps.Equal(before, snapshot(t, cfg.Out)) {
				t.Errorf("second run touched output files")
			}
			if res2.Certs[0].Serial != res.Certs[0].Serial {
				t.Errorf("second run serial %s, first %s", res2.Certs[0].Serial, res.Certs[0].Serial)
			}
		})
	}
}

// TestObtainFailures: each failure is a clear error of the right kind, and
// nothing is written to the output directory.
func TestObtainFailures(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	closed := testutil.FreePort(t)
	tests := []struct {
		name   string
		modify func(c *Config)
		kind   error
		words  []string
	}{
		{"CA down", func(c *Config) {
			c.DirectoryURL = "https://127.0.0.1:" + strconv.Itoa(closed) + "/dir"
		}, ErrCAUnreachable, []string{"connection refused"}},
		{"CA TLS not trusted", func(c *Config) { c.ACMECAFile = "" }, ErrCAUnreachable, []string{"--acme-ca"}},
		{"HTTP-01 listener not where the CA connects", func(c *Config) {
			c.TLSAddr = ""
			c.HTTPAddr = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
		}, ErrChallenge, []string{"http-01", "HTTP-01 listener 127.0.0.1:"}},
		{"TLS-ALPN-01 listener not where the CA connects", func(c *Config) {
			c.HTTPAddr = ""
			c.TLSAddr = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
		}, ErrChallenge, []string{"tls-alpn-01", "TLS-ALPN-01 listener 127.0.0.1:"}},
		{"the only listener's port taken", func(c *Config) {
			c.TLSAddr = ""
			testutil.StartRelay(t, c.HTTPAddr, "") // another program holds the port
		}, nil, []string{"HTTP-01 listener 127.0.0.1:", "address already in use"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := acmeConfig(t, p, "fail.certinit.test")
			tc.modify(&cfg)
			iss, _ := mustNew(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			res, err := iss.Obtain(ctx)
			if err == nil {
				t.Fatalf("Obtain succeeded: %+v", res)
			}
			t.Logf("error: %v", err)
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, serr := os.Stat(cfg.Out); !os.IsNotExist(serr) {
				t.Errorf("output directory exists after a failure: %v", serr)
			}
		})
	}
}

// TestExternalAccountBinding: a CA that requires EAB refuses an account
// without it (an account error) and issues with it.
func TestExternalAccountBinding(t *testing.T) {
	const kid, hmac = "kid-1", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	p := pebbletest.Start(t, pebbletest.Options{EAB: map[string]string{kid: hmac}})

	cfg := acmeConfig(t, p, "eab.certinit.test")
	iss, _ := mustNew(t, cfg)
	_, err := iss.Obtain(context.Background())
	t.Logf("error: %v", err)
	if !errors.Is(err, ErrAccount) || !strings.Contains(err.Error(), "external account binding") {
		t.Fatalf("without EAB: err = %v, want an account error about external account binding", err)
	}

	cfg.EABKID, cfg.EABHMAC = kid, hmac
	iss, _ = mustNew(t, cfg)
	obtain(t, iss)
	checkOutput(t, cfg.Out, p.Roots(t), writeRoot(t, p.RootPEM(t)), "eab.certinit.test", KeyECDSA, 0o600)
}
