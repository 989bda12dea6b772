package metrics

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/probe"
)

// scrape serves m on a free port for the test and returns one scrape of
// /metrics, as text and parsed.
func scrape(t *testing.T, m *Monitor) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	srv, err := Start("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	code, text := get(t, srv, MetricsPath)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", MetricsPath, code, text)
	}
	return text, parse(t, text)
}

// parse parses an exposition in the text format.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse the exposition: %v\n%s", err, text)
	}
	return fams
}

// TestScrapeDeadline: listeners that accept the connection but never
// finish the handshake cost a scrape no more than the time the scraper
// says it waits, all of them together: each shows as not read, and the
// rest of the exposition arrives in time. (One after the other, each at
// fetchTimeout, they would take 15 s.)
func TestScrapeDeadline(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	_, cert, _ := p.pair(t, "tls", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	certs := []Cert{{Role: RoleCert, Path: cert}}
	for i := range 3 {
		addr := testutil.ServeTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // never answers the ClientHello
		certs = append(certs, Cert{Role: RoleServed, Path: filepath.Join(p.dir, "listener"+strconv.Itoa(i)+".pem"),
			Served: func(ctx context.Context) ([]*x509.Certificate, error) { return probe.ServedChain(ctx, addr, "") }})
	}
	srv, err := Start("127.0.0.1:0", New(Options{Version: "dev", Certs: certs}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	const scrapeTimeout = 2 * time.Second
	req, err := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+MetricsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(scrapeTimeoutHeader, strconv.FormatFloat(scrapeTimeout.Seconds(), 'f', -1, 64))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s %s", MetricsPath, err, resp.Status, body)
	}
	if took >= scrapeTimeout {
		t.Errorf("the scrape took %s, the scraper waits %s", took, scrapeTimeout)
	}
	fams := parse(t, string(body))
	for _, c := range certs {
		want := 0.0
		if c.Role == RoleCert {
			want = 1
		}
		labels := map[string]string{"path": c.Path, "role": string(c.Role)}
		if v, ok := value(fams, "certinit_certificate_read_success", labels); !ok || v != want {
			t.Errorf("read_success %v: %v (present %v), want %v", labels, v, ok, want)
		}
	}
	if fams["certinit_build_info"] == nil || fams["certinit_reloads_total"] == nil {
		t.Error("the rest of the exposition is missing")
	}
}

// TestReadyDeadline: /readyz with listeners that never answer is a 503
// that says so, within the time `certinit health --ready` waits (Check),
// not a timeout without a reason.
func TestReadyDeadline(t *testing.T) {
	p := newPKI(t)
	var certs []Cert
	for i := range 3 {
		addr := testutil.ServeTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // never answers the ClientHello
		certs = append(certs, Cert{Role: RoleServed, Path: filepath.Join(p.dir, "listener"+strconv.Itoa(i)+".pem"),
			Served: func(ctx context.Context) ([]*x509.Certificate, error) { return probe.ServedChain(ctx, addr, "") }})
	}
	m := New(Options{Version: "dev", Certs: certs})
	m.BrokerUp(true)
	srv, err := Start("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = Check(context.Background(), srv.Addr(), true)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "did not answer in time") {
		t.Fatalf("Check(--ready) = %v, want a 503 saying the listener did not answer", err)
	}
}

// TestScrapeBudget: the certificates get nine tenths of the time the
// scraper says it waits, Prometheus' default when it says nothing usable,
// and never more than the listener's write timeout.
func TestScrapeBudget(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 9 * time.Second},
		{"2", 1800 * time.Millisecond},
		{"0.5", 450 * time.Millisecond},
		{"1e300", writeTimeout - writeTimeout/10},
		{"+Inf", writeTimeout - writeTimeout/10},
		{"0", 9 * time.Second},
		{"-3", 9 * time.Second},
		{"NaN", 9 * time.Second},
		{"ten", 9 * time.Second},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set(scrapeTimeoutHeader, tc.header)
		}
		if got := scrapeBudget(h); got != tc.want {
			t.Errorf("scrapeBudget(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

// value is the value of the one sample of family name whose labels
// include want; ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, w := range want {
			match = match && labels[k] == w
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		}
	}
	return 0, false
}

// fullMonitor is a Monitor that has seen one of everything: a pair, a
// chain, a copy, a trust CA, a missing file, the certificate a real
// Mosquitto serves, reloads of every result, restarts, renewals.
func fullMonitor(t *testing.T) (*Monitor, map[Role]string) {
	t.Helper()
	p := newPKI(t)
	now := time.Now()
	_, cert, key := p.pair(t, "tls", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	paths := map[Role]string{RoleCert: cert, RoleTrust: p.caFile, RoleCopy: filepath.Join(p.dir, "copy", "missing.pem")}
	m := New(Options{Version: "v1.2.3-test", ACME: true, MinValidity: time.Hour, Certs: []Cert{
		{Role: RoleCert, Path: cert},
		{Role: RoleTrust, Path: p.caFile},
		{Role: RoleCopy, Path: paths[RoleCopy]},
		serve(t, cert, key),
	}})
	m.BrokerUp(true)
	m.Answering(true)
	m.Reloaded(ActionSignal)
	m.Reloaded(ActionRestart)
	m.ReloadRefused(ReasonKeyMismatch)
	m.ReloadRefused(Reason("a reason nobody listed"))
	m.ReloadFailed(ActionSignal)
	m.BrokerRestarted(RestartLiveness)
	m.Renewed(now.Add(20 * 24 * time.Hour))
	m.RenewalFailed(RenewalRateLimited, now.Add(time.Hour))
	return m, paths
}

// TestExpositionPromtool: the exposition passes `promtool check metrics`,
// Prometheus' own linter of names, units, types and help.
func TestExpositionPromtool(t *testing.T) {
	promtool := testutil.RequireTool(t, "promtool")
	m, _ := fullMonitor(t)
	text, _ := scrape(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s\nexposition:\n%s", err, out, text)
	}
}

// TestExpositionValues: every family is there with the values recorded;
// the dates are those of the files and of what the broker serves; label
// values come from the fixed sets; no subject shows anywhere.
func TestExpositionValues(t *testing.T) {
	m, paths := fullMonitor(t)
	text, fams := scrape(t, m)
	leaf, err := look(context.Background(), m.certs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []Role{RoleCert, RoleServed} {
		labels := map[string]string{"path": paths[RoleCert], "role": string(role)}
		if v, ok := value(fams, "certinit_certificate_not_after_timestamp_seconds", labels); !ok || int64(v) != leaf.NotAfter.Unix() {
			t.Errorf("not_after %v: %v, %v; want %d", labels, v, ok, leaf.NotAfter.Unix())
		}
		if v, ok := value(fams, "certinit_certificate_read_success", labels); !ok || v != 1 {
			t.Errorf("read_success %v: %v, %v; want 1", labels, v, ok)
		}
	}
	missing := map[string]string{"path": paths[RoleCopy], "role": string(RoleCopy)}
	if v, ok := value(fams, "certinit_certificate_read_success", missing); !ok || v != 0 {
		t.Errorf("read_success of a missing file: %v, %v; want 0", v, ok)
	}
	if _, ok := value(fams, "certinit_certificate_not_after_timestamp_seconds", missing); ok {
		t.Error("a missing file has a not_after")
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"certinit_reloads_total", map[string]string{"result": "ok", "reason": "signal"}, 1},
		{"certinit_reloads_total", map[string]string{"result": "ok", "reason": "restart"}, 1},
		{"certinit_reloads_total", map[string]string{"result": "refused", "reason": "key_mismatch"}, 1},
		{"certinit_reloads_total", map[string]string{"result": "refused", "reason": "other"}, 1},
		{"certinit_reloads_total", map[string]string{"result": "refused", "reason": "expired"}, 0},
		{"certinit_reloads_total", map[string]string{"result": "failed", "reason": "signal"}, 1},
		{"certinit_broker_restarts_total", map[string]string{"reason": "reload"}, 1},
		{"certinit_broker_restarts_total", map[string]string{"reason": "liveness"}, 1},
		{"certinit_acme_renewals_total", map[string]string{"result": "ok"}, 1},
		{"certinit_acme_renewals_total", map[string]string{"result": "failed", "reason": "rate_limited"}, 1},
		{"certinit_broker_up", nil, 1},
		{"certinit_broker_answering", nil, 1},
		{"certinit_build_info", map[string]string{"version": "v1.2.3-test"}, 1},
	} {
		if v, ok := value(fams, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	for _, name := range []string{"certinit_last_reload_success_timestamp_seconds", "certinit_acme_next_renewal_timestamp_seconds",
		"certinit_certificate_not_before_timestamp_seconds", "process_resident_memory_bytes", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if strings.Contains(text, "nobody listed") || strings.Contains(text, testCN) || strings.Contains(text, "metrics test CA") {
		t.Errorf("the exposition shows an unlisted reason or a subject:\n%s", text)
	}
}

// TestExpositionBeforeEvents: before anything happened, the counters of
// the fixed sets are at zero, the times that are not known are absent
// (not 1970), and renewals are not reported without ACME.
func TestExpositionBeforeEvents(t *testing.T) {
	_, fams := scrape(t, New(Options{Version: "dev"}))
	if v, ok := value(fams, "certinit_reloads_total", map[string]string{"result": "refused", "reason": "untrusted_chain"}); !ok || v != 0 {
		t.Errorf("refused untrusted_chain: %v, %v; want a zero", v, ok)
	}
	if v, ok := value(fams, "certinit_broker_up", nil); !ok || v != 0 {
		t.Errorf("broker_up before the start: %v, %v; want 0", v, ok)
	}
	for _, name := range []string{"certinit_last_reload_success_timestamp_seconds", "certinit_acme_next_renewal_timestamp_seconds",
		"certinit_acme_renewals_total", "certinit_broker_answering", "certinit_certificate_not_after_timestamp_seconds"} {
		if fams[name] != nil {
			t.Errorf("%s is there before anything reported it", name)
		}
	}
}

// TestTrustCASeries: each CA of a --trust file has its own dates, labelled
// with the subject hash and the SHA-256 fingerprint that openssl prints
// for it; a CA listed twice is one series, and the file's own series
// still gives the CA that expires first.
func TestTrustCASeries(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	root := testutil.NewCA(t, "certinit metrics root")
	inter := root.Intermediate(t, "certinit metrics issuing CA")
	bundle := testutil.WriteFile(t, dir, "bundle.pem", slices.Concat(
		testutil.CertPEM(root.Cert), testutil.CertPEM(inter.Cert), testutil.CertPEM(root.Cert)))
	m := New(Options{Certs: []Cert{{Role: RoleTrust, Path: bundle}}})
	_, fams := scrape(t, m)
	series := fams["certinit_trust_ca_not_after_timestamp_seconds"].GetMetric()
	if len(series) != 2 {
		t.Fatalf("%d series, want one per distinct CA (2)", len(series))
	}
	for _, ca := range []*testutil.CA{root, inter} {
		pemFile := testutil.WriteFile(t, dir, "one.pem", testutil.CertPEM(ca.Cert))
		out, err := exec.Command(openssl, "x509", "-in", pemFile, "-noout", "-hash", "-fingerprint", "-sha256").Output()
		if err != nil {
			t.Fatalf("openssl x509: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		_, fp, _ := strings.Cut(lines[1], "=")
		labels := map[string]string{"path": bundle, "subject_hash": lines[0],
			"sha256": strings.ToLower(strings.ReplaceAll(fp, ":", ""))}
		for name, want := range map[string]time.Time{
			"certinit_trust_ca_not_after_timestamp_seconds":  ca.Cert.NotAfter,
			"certinit_trust_ca_not_before_timestamp_seconds": ca.Cert.NotBefore,
		} {
			if v, ok := value(fams, name, labels); !ok || int64(v) != want.Unix() {
				t.Errorf("%s%v = %v, %v; want %d", name, labels, v, ok, want.Unix())
			}
		}
	}
	first := root.Cert.NotAfter
	if inter.Cert.NotAfter.Before(first) {
		first = inter.Cert.NotAfter
	}
	file := map[string]string{"path": bundle, "role": string(RoleTrust)}
	if v, ok := value(fams, "certinit_certificate_not_after_timestamp_seconds", file); !ok || int64(v) != first.Unix() {
		t.Errorf("the file's not_after = %v, %v; want the first to expire, %d", v, ok, first.Unix())
	}
}

// TestDocAlertRules: the alert rules docs/metrics.md offers pass
// `promtool check rules`, so a user can paste them as they are.
func TestDocAlertRules(t *testing.T) {
	promtool := testutil.RequireTool(t, "promtool")
	doc := string(testutil.ReadFile(t, filepath.Join(testutil.ModuleRoot(t), "docs", "metrics.md")))
	_, after, ok := strings.Cut(doc, "### Alerts that follow from these")
	_, after, ok2 := strings.Cut(after, "```yaml\n")
	rules, _, ok3 := strings.Cut(after, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/metrics.md has no yaml block under \"Alerts that follow from these\"")
	}
	var file strings.Builder
	file.WriteString("groups:\n- name: certinit\n  rules:\n")
	for _, line := range strings.Split(strings.TrimRight(rules, "\n"), "\n") {
		file.WriteString("  " + line + "\n")
	}
	path := testutil.WriteFile(t, t.TempDir(), "rules.yml", []byte(file.String()))
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	want := fmt.Sprintf("SUCCESS: %d rules found", strings.Count(rules, "- alert:"))
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("promtool check rules: %v\n%s\nrules:\n%s", err, out, file.String())
	}
}
