package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/promtest"
)

// scrapeWithin bounds how long a value takes to reach Prometheus: a scrape
// a second, and the query sees the newest sample.
const scrapeWithin = 30 * time.Second

// TestPrometheusScrapes: a real Prometheus scrapes the listener and stores
// what the broker serves (a real Mosquitto) and what happens: the values
// read back through its query API are the served certificate's not-after,
// the reloads and refusals as they are counted, the broker's state.
func TestPrometheusScrapes(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	leaf, cert, key := p.pair(t, "tls", now.Add(-time.Hour), now.Add(45*24*time.Hour))
	m := New(Options{Version: "v0.0.0-promtest", Certs: []Cert{
		{Role: RoleCert, Path: cert}, {Role: RoleTrust, Path: p.caFile}, serve(t, cert, key),
	}})
	srv, err := Start("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	prom := promtest.Start(t, srv.Addr())
	prom.WaitUp(t, srv.Addr(), scrapeWithin)

	served := fmt.Sprintf(`certinit_certificate_not_after_timestamp_seconds{role="served",path=%q}`, cert)
	if got := prom.WaitValue(t, scrapeWithin, served, func(float64) bool { return true }); int64(got) != leaf.NotAfter.Unix() {
		t.Errorf("%s = %v, want %d", served, got, leaf.NotAfter.Unix())
	}
	trust := fmt.Sprintf(`certinit_certificate_not_after_timestamp_seconds{role="trust",path=%q}`, p.caFile)
	if got := prom.WaitValue(t, scrapeWithin, trust, func(float64) bool { return true }); int64(got) != p.ca.Cert.NotAfter.Unix() {
		t.Errorf("%s = %v, want %d", trust, got, p.ca.Cert.NotAfter.Unix())
	}
	perCA := fmt.Sprintf(`certinit_trust_ca_not_after_timestamp_seconds{path=%q}`, p.caFile)
	if got := prom.WaitValue(t, scrapeWithin, perCA, func(float64) bool { return true }); int64(got) != p.ca.Cert.NotAfter.Unix() {
		t.Errorf("%s = %v, want %d", perCA, got, p.ca.Cert.NotAfter.Unix())
	}
	prom.WaitValue(t, scrapeWithin, `certinit_broker_up`, func(v float64) bool { return v == 0 })
	prom.WaitValue(t, scrapeWithin, `certinit_build_info{version="v0.0.0-promtest"}`, func(v float64) bool { return v == 1 })

	m.BrokerUp(true)
	m.Reloaded(ActionSignal)
	m.ReloadRefused(ReasonKeyMismatch)
	m.ReloadRefused(ReasonKeyMismatch)
	prom.WaitValue(t, scrapeWithin, `certinit_broker_up`, func(v float64) bool { return v == 1 })
	prom.WaitValue(t, scrapeWithin, `certinit_reloads_total{result="ok",reason="signal"}`, func(v float64) bool { return v == 1 })
	prom.WaitValue(t, scrapeWithin, `certinit_reloads_total{result="refused",reason="key_mismatch"}`, func(v float64) bool { return v == 2 })
	prom.WaitValue(t, scrapeWithin, `sum(certinit_reloads_total{result="refused"})`, func(v float64) bool { return v == 2 })
	prom.WaitValue(t, scrapeWithin, `time() - certinit_last_reload_success_timestamp_seconds`, func(v float64) bool { return v >= 0 && v < 60 })
}
