// Package promtest runs a real Prometheus server (Debian's `prometheus`
// package, installed by scripts/deps.sh) for certinit's tests: on
// 127.0.0.1, with its configuration and database in a temporary directory,
// scraping the given targets every second, and answers PromQL queries
// through its HTTP API (/api/v1/query), so tests check what Prometheus
// itself stored, not what certinit says it exposes.
//
// It is imported only from _test.go files.
package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// Job is the job label of the scraped targets.
const Job = "certinit"

// readyTimeout bounds how long Prometheus takes to open its database and
// answer /-/ready.
const readyTimeout = 60 * time.Second

// Server is a running Prometheus.
type Server struct {
	URL    string // http://127.0.0.1:PORT
	client *http.Client
}

// Start runs Prometheus scraping targets (HOST:PORT, path /metrics) every
// second as job "certinit", and returns once it is ready. It is stopped at
// the end of the test (its output is logged when the test failed).
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	bin := testutil.RequireTool(t, "prometheus")
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: [%s]
`, Job, strings.Join(quoted, ", "))
	cfg := testutil.WriteFile(t, dir, "prometheus.yml", []byte(conf))
	addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	p := mosquittotest.StartProc(t, "prometheus", bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	s := &Server{URL: "http://" + addr, client: &http.Client{Timeout: 10 * time.Second}}
	// Prometheus announces readiness only through /-/ready.
	testutil.Eventually(t, readyTimeout, func() (bool, string) {
		if p.Exited() {
			t.Fatalf("prometheus exited:\n%s", p.Output())
		}
		resp, err := s.client.Get(s.URL + "/-/ready")
		if err != nil {
			return false, "prometheus /-/ready: " + err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, "prometheus /-/ready: " + resp.Status
	})
	return s
}

// Sample is one element of an instant vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query evaluates a PromQL instant query now and returns the samples of
// the resulting vector.
func (s *Server) Query(expr string) ([]Sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"` // [unix time, "value"]
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %s: %s: %w", expr, resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", expr, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: a %s, not a vector", expr, r.Data.ResultType)
	}
	out := make([]Sample, 0, len(r.Data.Result))
	for _, e := range r.Data.Result {
		str, _ := e.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", expr, e.Value[1], err)
		}
		out = append(out, Sample{Labels: e.Metric, Value: v})
	}
	return out, nil
}

// WaitValue polls the query until it gives exactly one sample whose value
// satisfies cond, and returns that value; it fails the test after within.
// Prometheus tells no one when it scraped, so its answers are polled.
func (s *Server) WaitValue(t testing.TB, within time.Duration, expr string, cond func(float64) bool) float64 {
	t.Helper()
	var v float64
	testutil.Eventually(t, within, func() (bool, string) {
		samples, err := s.Query(expr)
		switch {
		case err != nil:
			return false, err.Error()
		case len(samples) != 1:
			return false, fmt.Sprintf("%s: %d samples, want 1: %v", expr, len(samples), samples)
		}
		v = samples[0].Value
		return cond(v), fmt.Sprintf("%s = %v", expr, v)
	})
	return v
}

// WaitUp waits until Prometheus has scraped target successfully.
func (s *Server) WaitUp(t testing.TB, target string, within time.Duration) {
	t.Helper()
	s.WaitValue(t, within, fmt.Sprintf(`up{job=%q,instance=%q}`, Job, target), func(v float64) bool { return v == 1 })
}
