package acme

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/bindtest"
	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/testutil"
)

// DNS-01 against the real thing: BIND 9 serves the zones and takes the
// updates, Pebble resolves and validates through it, and dig (without
// recursion, as an authoritative check) says whether a record is there.

// dnsWorld is a BIND with the test zones and a Pebble that resolves
// through it. In example.test, _acme-challenge.alias is delegated by CNAME
// into the zone acme.test, and _acme-challenge.alias2 to another name in
// example.test.
type dnsWorld struct {
	bind *bindtest.Server
	p    *pebbletest.Server
}

func startDNSWorld(t *testing.T) *dnsWorld {
	bind := bindtest.Start(t, bindtest.Options{
		Zones: []string{"example.test", "acme.test"},
		Records: []string{
			"_acme-challenge.alias.example.test. IN CNAME alias.acme.test.",
			"_acme-challenge.alias2.example.test. IN CNAME alias2.dns01.example.test.",
		},
		Recursion: true, // Pebble follows the CNAME into acme.test through BIND
	})
	return &dnsWorld{bind: bind, p: pebbletest.Start(t, pebbletest.Options{DNSServer: bind.Addr})}
}

// config is a DNS-01 configuration without a publisher: no listeners,
// BIND as the resolver.
func (w *dnsWorld) config(t *testing.T, domains ...string) Config {
	cfg := acmeConfig(t, w.p, domains...)
	cfg.HTTPAddr, cfg.TLSAddr = "", ""
	cfg.DNSResolver = w.bind.Addr
	return cfg
}

func (w *dnsWorld) rfc2136(t *testing.T, domains ...string) Config {
	cfg := w.config(t, domains...)
	cfg.RFC2136Server, cfg.RFC2136TSIG = w.bind.Addr, w.bind.KeyFile
	return cfg
}

// fqdns lists the fqdn attribute of the records with message msg.
func fqdns(logs *testutil.Logs, msg string) []string {
	var out []string
	for _, r := range logs.Matching(func(r testutil.Record) bool { return r.Message == msg }) {
		out = append(out, r.Attrs["fqdn"])
	}
	slices.Sort(out)
	return out
}

// checkRecords checks that each TXT record was published and removed, as
// the log says, and that BIND holds no TXT record at its name any more.
func (w *dnsWorld) checkRecords(t *testing.T, logs *testutil.Logs, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := fqdns(logs, "published the DNS-01 TXT record"); !slices.Equal(got, want) {
		t.Errorf("published %v, want %v", got, want)
	}
	if got := fqdns(logs, "removed the DNS-01 TXT record"); !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	for _, name := range want {
		if vals := w.bind.TXT(t, name); len(vals) > 0 {
			t.Errorf("%s still has TXT %v", name, vals)
		}
	}
}

// verifyName is a name a certificate for the configured name must verify
// for: a host under a wildcard.
func verifyName(name string) string {
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		return "host." + rest
	}
	return name
}

func TestDNS01RFC2136(t *testing.T) {
	w := startDNSWorld(t)
	rootFile, roots := writeRoot(t, w.p.RootPEM(t)), w.p.Roots(t)
	tests := []struct {
		name    string
		domains []string
		records []string // where the TXT records go
		http    bool     // the HTTP-01 listener too (for an IP address)
	}{
		{"a wildcard and its base name share a record name", []string{"example.test", "*.example.test", "www.example.test"},
			[]string{"_acme-challenge.example.test.", "_acme-challenge.example.test.", "_acme-challenge.www.example.test."}, false},
		{"CNAME into another zone", []string{"alias.example.test"}, []string{"alias.acme.test."}, false},
		{"CNAME within the zone", []string{"alias2.example.test"}, []string{"alias2.dns01.example.test."}, false},
		{"a name by DNS-01, an IP address by HTTP-01", []string{"ip.example.test", "127.0.0.1"},
			[]string{"_acme-challenge.ip.example.test."}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := w.rfc2136(t, tc.domains...)
			if tc.http {
				cfg.HTTPAddr = w.p.HTTPAddr()
			}
			iss, logs := mustNew(t, cfg)
			res := obtain(t, iss)
			if len(res.Certs) != 1 || !res.Certs[0].Issued {
				t.Fatalf("result %+v", res)
			}
			for _, n := range tc.domains {
				checkOutput(t, cfg.Out, roots, rootFile, verifyName(n), KeyECDSA, 0o600)
			}
			w.checkRecords(t, logs, tc.records...)
		})
	}
}

// TestDNS01SystemResolver takes the way without a named resolver: the
// system resolver (here BIND, through the seam) finds the zone and its
// name server ns.example.test, which is then asked without recursion and
// must answer authoritatively.
func TestDNS01SystemResolver(t *testing.T) {
	w := startDNSWorld(t)
	oldSys, oldPort := systemResolvers, nameServerPort
	systemResolvers = func() ([]string, error) { return []string{w.bind.Addr}, nil }
	nameServerPort = strings.TrimPrefix(w.bind.Addr, "127.0.0.1:")
	t.Cleanup(func() { systemResolvers, nameServerPort = oldSys, oldPort })

	cfg := w.rfc2136(t, "sys.example.test")
	cfg.DNSResolver = ""
	iss, logs := mustNew(t, cfg)
	obtain(t, iss)
	w.checkRecords(t, logs, "_acme-challenge.sys.example.test.")
}

// TestDNS01RFC2136Refused: BIND refuses an update signed with another
// secret under the key's name; the error names the server and BIND's
// answer, nothing is published and nothing written.
func TestDNS01RFC2136Refused(t *testing.T) {
	w := startDNSWorld(t)
	other, err := exec.Command(testutil.RequireTool(t, "tsig-keygen"), "-a", "hmac-sha256", bindtest.DefaultKeyName).Output()
	if err != nil {
		t.Fatal(err)
	}
	cfg := w.rfc2136(t, "refused.example.test")
	cfg.RFC2136TSIG = testutil.WriteFile(t, t.TempDir(), "wrong.key", other)
	iss, logs := mustNew(t, cfg)
	_, err = iss.Obtain(context.Background())
	t.Logf("error: %v", err)
	if !errors.Is(err, ErrChallenge) {
		t.Fatalf("err = %v, want ErrChallenge", err)
	}
	for _, words := range []string{"RFC 2136 server " + w.bind.Addr, "NOTAUTH", "BADSIG", "refused.example.test"} {
		if !strings.Contains(err.Error(), words) {
			t.Errorf("error does not say %q", words)
		}
	}
	if got := fqdns(logs, "published the DNS-01 TXT record"); len(got) > 0 {
		t.Errorf("published %v", got)
	}
	if _, err := os.Stat(cfg.Out); !os.IsNotExist(err) {
		t.Errorf("output directory exists after a failure: %v", err)
	}
	if recs := logs.Matching(testutil.AtLevel(slog.LevelError)); len(recs) != 0 {
		t.Errorf("error records %v: a refused record needs no removal", recs)
	}
}

// obtainErr runs Obtain, which must fail, within limit.
func obtainErr(t *testing.T, iss Issuer, limit time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	res, err := iss.Obtain(ctx)
	if err == nil {
		t.Fatalf("Obtain succeeded: %+v", res)
	}
	t.Logf("error: %v", err)
	return err
}
