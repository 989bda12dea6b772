package acme

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pebbletest"
)

// TestProfiles: the order asks for the configured profile, and the
// certificate has that profile's lifetime; a profile the CA does not offer
// is a configuration error that lists the ones it does.
func TestProfiles(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{Profiles: map[string]time.Duration{
		"classic":    90 * 24 * time.Hour,
		"shortlived": 10 * time.Minute,
	}})
	for _, tc := range []struct {
		profile  string
		lifetime time.Duration
	}{{"shortlived", 10 * time.Minute}, {"classic", 90 * 24 * time.Hour}} {
		t.Run(tc.profile, func(t *testing.T) {
			cfg := acmeConfig(t, p, "profile.certinit.test")
			cfg.Profile = tc.profile
			iss, _ := mustNew(t, cfg)
			c := obtain(t, iss).Certs[0]
			// Pebble's notAfter is notBefore + validity - 1s.
			if got := c.NotAfter.Sub(c.NotBefore) + time.Second; got != tc.lifetime {
				t.Errorf("lifetime %s, want the profile's %s", got, tc.lifetime)
			}
			checkOutput(t, cfg.Out, p.Roots(t), writeRoot(t, p.RootPEM(t)), "profile.certinit.test", KeyECDSA, 0o600)
		})
	}
	t.Run("unknown", func(t *testing.T) {
		cfg := acmeConfig(t, p, "profile.certinit.test")
		cfg.Profile = "sixdays"
		iss, _ := mustNew(t, cfg)
		err := obtainErr(t, iss, time.Minute)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("err is not ErrConfig")
		}
		for _, w := range []string{`"sixdays"`, "classic (", "shortlived (", p.DirectoryURL} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not say %q", w)
			}
		}
	})
}

// TestIPAddress issues a certificate for an IP address (an "ip"
// identifier, RFC 8738) through each listener, and for an address and a
// name together.
func TestIPAddress(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	tests := []struct {
		name    string
		only    string // the one listener, "" for both
		domains []string
	}{
		{"HTTP-01", chHTTP01, []string{"127.0.0.1"}},
		{"TLS-ALPN-01", chTLSALPN01, []string{"127.0.0.1"}},
		{"an address and a name", "", []string{"ipname.certinit.test", "127.0.0.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := acmeConfig(t, p, tc.domains...)
			switch tc.only {
			case chHTTP01:
				cfg.TLSAddr = ""
			case chTLSALPN01:
				cfg.HTTPAddr = ""
			}
			iss, _ := mustNew(t, cfg)
			res := obtain(t, iss)
			rootFile, roots := writeRoot(t, p.RootPEM(t)), p.Roots(t)
			for _, n := range tc.domains {
				checkOutput(t, cfg.Out, roots, rootFile, n, KeyECDSA, 0o600)
			}
			if !res.Certs[0].Issued {
				t.Errorf("not issued: %+v", res)
			}
		})
	}
}
