package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
	"golang.org/x/crypto/acme"
)

// caClient is an HTTP client that trusts Pebble's API.
func caClient(t *testing.T, p *pebbletest.Server) *http.Client {
	certs, err := pemfile.ReadCertificates(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(certs[0])
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
}

// pebbleWindow asks Pebble itself for its renewal window of the
// certificate in dir.
func pebbleWindow(t *testing.T, p *pebbletest.Server, dir string) (start, end time.Time) {
	t.Helper()
	hc := caClient(t, p)
	get := func(url string, v any) {
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %s: %v", url, resp.Status, err)
		}
	}
	var d struct{ RenewalInfo string }
	get(p.DirectoryURL, &d)
	id, err := certID(readLeaf(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var ri struct {
		SuggestedWindow struct{ Start, End time.Time }
	}
	get(d.RenewalInfo+"/"+id, &ri)
	return ri.SuggestedWindow.Start, ri.SuggestedWindow.End
}

func readLeaf(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	certs, err := pemfile.ReadCertificates(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// revoke revokes the certificate in dir at Pebble, signed with its key.
func revoke(t *testing.T, p *pebbletest.Server, dir string) {
	t.Helper()
	key, err := pemfile.ReadKey(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	c := &acme.Client{DirectoryURL: p.DirectoryURL, HTTPClient: caClient(t, p)}
	if err := c.RevokeCert(context.Background(), key, readLeaf(t, dir).Raw, acme.CRLReasonKeyCompromise); err != nil {
		t.Fatalf("revoke: %v", err)
	}
}

func inWindow(at, start, end time.Time) bool { return !at.Before(start) && !at.After(end) }

// TestRenewalInfoWindow: the renewal time is drawn in the CA's window;
// restarts keep it and do not ask again before the CA's Retry-After; once
// that has passed, a window the CA moved is followed.
func TestRenewalInfoWindow(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	cfg := acmeConfig(t, p, "ari.certinit.test")
	iss, _ := mustNew(t, cfg)
	first := obtain(t, iss).Certs[0]
	start, end := pebbleWindow(t, p, cfg.Out)
	if !inWindow(first.RenewAt, start, end) || !strings.Contains(first.RenewWhy, "(ARI)") {
		t.Fatalf("renewal at %v (%s), want a time in Pebble's window %v to %v", first.RenewAt, first.RenewWhy, start, end)
	}

	conns := p.Connections()
	again, _ := mustNew(t, cfg)
	if c := obtain(t, again).Certs[0]; !c.RenewAt.Equal(first.RenewAt) || c.Issued {
		t.Errorf("after a restart: %+v, want the same renewal time %v", c, first.RenewAt)
	}
	if n := p.Connections() - conns; n != 0 {
		t.Errorf("a restart within the CA's Retry-After made %d connections", n)
	}

	// The CA moves the window; after its Retry-After (six hours, on the
	// clock seam) certinit asks again and follows.
	now := time.Now()
	newStart, newEnd := now.Add(10*24*time.Hour).UTC().Truncate(time.Second), now.Add(11*24*time.Hour).UTC().Truncate(time.Second)
	p.SetRenewalInfo(t, pemfile.EncodeCerts(readLeaf(t, cfg.Out)),
		fmt.Sprintf(`{"suggestedWindow":{"start":%q,"end":%q},"explanationURL":"https://ca.test/why"}`,
			newStart.Format(time.RFC3339), newEnd.Format(time.RFC3339)))
	if c := obtain(t, again).Certs[0]; !c.RenewAt.Equal(first.RenewAt) {
		t.Errorf("asked again before Retry-After: renewal at %v", c.RenewAt)
	}
	setClock(t, now.Add(7*time.Hour))
	c := obtain(t, again).Certs[0]
	if !inWindow(c.RenewAt, newStart, newEnd) || c.Issued || !strings.Contains(c.RenewWhy, "https://ca.test/why") {
		t.Errorf("renewal %+v, want a time in the new window %v to %v with the CA's explanation", c, newStart, newEnd)
	}
}

// TestRenewalInfoRevoked: a revoked certificate's window is in the past,
// so the next acme obtain after the CA's Retry-After renews at once.
func TestRenewalInfoRevoked(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	cfg := acmeConfig(t, p, "revoked.certinit.test")
	iss, logs := mustNew(t, cfg)
	first := obtain(t, iss).Certs[0]
	revoke(t, p, cfg.Out)
	if c := obtain(t, iss).Certs[0]; c.Issued {
		t.Fatalf("renewed before the CA's Retry-After: %+v", c)
	}
	setClock(t, time.Now().Add(7*time.Hour))
	c := obtain(t, iss).Certs[0]
	if !c.Issued || c.Serial == first.Serial {
		t.Fatalf("not renewed after the revocation: %+v", c)
	}
	rec := logs.WaitFor(func(r testutil.Record) bool {
		return r.Message == "ordering certificate" && r.Attrs["rule"] == "ari"
	}, time.Second)
	t.Logf("renewed because %s", rec.Attrs["reason"])
	checkOutput(t, cfg.Out, p.Roots(t), writeRoot(t, p.RootPEM(t)), "revoked.certinit.test", KeyECDSA, 0o600)
}

// TestRenewLoopRenewalInfo: under RenewLoop, the CA is asked again as its
// Retry-After says (shortened here), and a revocation is followed by a
// renewal at once, reported to the callback.
func TestRenewLoopRenewalInfo(t *testing.T) {
	oldMin, oldMax := ariRetryMin, ariRetryMax
	ariRetryMin, ariRetryMax = 100*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { ariRetryMin, ariRetryMax = oldMin, oldMax })
	p := pebbletest.Start(t, pebbletest.Options{})
	cfg := acmeConfig(t, p, "loop-ari.certinit.test")
	iss, _ := mustNew(t, cfg)
	first := obtain(t, iss).Certs[0]
	renewed := startLoop(t, iss)
	revoke(t, p, cfg.Out)
	r := waitRenewal(t, renewed, 30*time.Second)
	if c := r.Certs[0]; !c.Issued || c.Serial == first.Serial {
		t.Fatalf("renewal %+v", c)
	}
	checkOutput(t, cfg.Out, p.Roots(t), writeRoot(t, p.RootPEM(t)), "loop-ari.certinit.test", KeyECDSA, 0o600)
}

// TestForceRenewal: the first Obtain orders although the cached
// certificate is good; later ones follow the schedule again.
func TestForceRenewal(t *testing.T) {
	p := pebbletest.Start(t, pebbletest.Options{})
	cfg := acmeConfig(t, p, "force.certinit.test")
	iss, _ := mustNew(t, cfg)
	first := obtain(t, iss).Certs[0]
	cfg.ForceRenewal = true
	iss, _ = mustNew(t, cfg)
	if c := obtain(t, iss).Certs[0]; !c.Issued || c.Serial == first.Serial {
		t.Fatalf("forced: %+v, first %s", c, first.Serial)
	}
	if c := obtain(t, iss).Certs[0]; c.Issued {
		t.Fatalf("the second Obtain ordered again: %+v", c)
	}
}
