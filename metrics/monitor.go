// Package metrics lets operators see a running `certinit run` from outside:
// the Prometheus exposition of what certinit knows (when each managed
// certificate expires, on disk and as the broker serves it; reloads,
// refusals and restarts; whether the broker is up; ACME renewals; the build),
// the health endpoints /healthz and /readyz on the same listener, the
// client side of `certinit health`, and the log warning for a certificate
// near its end (Expiry, which works without the rest).
//
// The runner tells a Monitor what happens (Reloaded, ReloadRefused,
// BrokerUp, Renewed, ...); certificates are read when someone looks (a
// scrape, a probe, the hourly look of Expiry), so what is reported is what
// is on disk and what the broker sends at that moment. Labels are file
// paths, small fixed sets of words and, for each CA of a --trust file, its
// subject hash and fingerprint in hex; never subjects or other text from a
// certificate, and never key material.
//
// It does not decide anything about reloads, watch files or run the broker
// (runner, reload, watch and supervisor do), and it keeps no history: that
// is Prometheus' job. Without metrics there is no Monitor at all: a nil
// *Monitor records nothing, and Start with an empty address opens nothing
// and starts no goroutine.
package metrics

import (
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Options describe what one run manages.
type Options struct {
	Version string // certinit's version, for certinit_build_info
	Certs   []Cert // the certificates to report on
	// MinValidity is run's --ready-min-validity: /readyz fails when the
	// served certificate expires sooner.
	MinValidity time.Duration
	ACME        bool // certificates are obtained in-process: report renewals
	Log         *slog.Logger
}

// Monitor holds what a run has told it and serves it to the exposition
// and the health endpoints. Its methods may be called from any goroutine;
// on a nil *Monitor (a run without metrics) they record nothing.
type Monitor struct {
	certs       []Cert
	minValidity time.Duration
	log         *slog.Logger
	reg         *prometheus.Registry // all but the certificates, which each scrape reads anew (serveMetrics)
	now         func() time.Time     // test seam

	reloads  *prometheus.CounterVec
	restarts *prometheus.CounterVec
	renewals *prometheus.CounterVec // nil without ACME

	mu          sync.Mutex
	started     bool      // the broker started once: preparation is over
	up          bool      // the broker process runs
	answering   *bool     // the last liveness check's answer; nil: no check
	lastReload  time.Time // the last successful reload; zero: none yet
	nextRenewal time.Time // zero: not known
}

// New returns a Monitor for a run configured as opts says; it serves
// nothing until Start.
func New(opts Options) *Monitor {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{
		certs: opts.Certs, minValidity: opts.MinValidity, log: log,
		reg: prometheus.NewRegistry(), now: time.Now,
	}
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certinit_reloads_total",
		Help: "Changes of the watched files handled, by result (ok, refused, failed) and reason " +
			"(for refused: why; for ok and failed: how the broker was told: signal, restart or none).",
	}, []string{"result", "reason"})
	m.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certinit_broker_restarts_total",
		Help: "Restarts of the broker by certinit, by reason (reload: a change it reads only at start; liveness: it stopped answering).",
	}, []string{"reason"})
	// Every label value of the fixed sets is there from the start, at
	// zero, so that rate() and increase() see the first event.
	for _, a := range actions {
		m.reloads.WithLabelValues(resultOK, string(a))
		if a != ActionNone { // nothing to deliver cannot fail
			m.reloads.WithLabelValues(resultFailed, string(a))
		}
	}
	for _, r := range reasons {
		m.reloads.WithLabelValues(resultRefused, string(r))
	}
	for _, r := range restartReasons {
		m.restarts.WithLabelValues(string(r))
	}
	m.reg.MustRegister(m.reloads, m.restarts, stateCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(opts.Version))
	if opts.ACME {
		m.renewals = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certinit_acme_renewals_total",
			Help: "In-process certificate renewals, by result (ok, failed) and, for failed, reason.",
		}, []string{"result", "reason"})
		m.renewals.WithLabelValues(resultOK, "")
		for _, r := range renewalReasons {
			m.renewals.WithLabelValues(resultFailed, string(r))
		}
		m.reg.MustRegister(m.renewals)
	}
	return m
}

// Result label values of the counters.
const (
	resultOK      = "ok"
	resultRefused = "refused"
	resultFailed  = "failed"
)

// BrokerUp records that the broker process started (up) or exited. Its
// first start ends the preparation.
func (m *Monitor) BrokerUp(up bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.up = up
	m.started = m.started || up
}

// BrokerRestarted counts a restart certinit made, for reason.
func (m *Monitor) BrokerRestarted(reason RestartReason) {
	if m == nil {
		return
	}
	m.restarts.WithLabelValues(string(reason.known())).Inc()
}

// Answering records the result of a liveness check of the broker: whether
// it answered on its listener. Without any, /healthz goes by the process.
func (m *Monitor) Answering(ok bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.answering = &ok
}

// Reloaded records a change that reached the broker the way a says (a
// restart also counts as a broker restart for reason reload).
func (m *Monitor) Reloaded(a Action) {
	if m == nil {
		return
	}
	a = a.known()
	m.reloads.WithLabelValues(resultOK, string(a)).Inc()
	if a == ActionRestart {
		m.BrokerRestarted(RestartReload)
	}
	m.mu.Lock()
	m.lastReload = m.now()
	m.mu.Unlock()
}

// ReloadRefused records a change that was refused for reason r: nothing
// reached the broker.
func (m *Monitor) ReloadRefused(r Reason) {
	if m == nil {
		return
	}
	m.reloads.WithLabelValues(resultRefused, string(r.known())).Inc()
}

// ReloadFailed records a good change whose signal or restart (a) could not
// be delivered.
func (m *Monitor) ReloadFailed(a Action) {
	if m == nil {
		return
	}
	m.reloads.WithLabelValues(resultFailed, string(a.known())).Inc()
}

// Renewed records an in-process renewal that wrote new files, and when
// the next one is planned. Without Options.ACME it does nothing.
func (m *Monitor) Renewed(next time.Time) {
	if m == nil || m.renewals == nil {
		return
	}
	m.renewals.WithLabelValues(resultOK, "").Inc()
	m.NextRenewal(next)
}

// RenewalFailed records a failed renewal, for reason r, and when it is
// tried again. Without Options.ACME it does nothing.
func (m *Monitor) RenewalFailed(r RenewalReason, retry time.Time) {
	if m == nil || m.renewals == nil {
		return
	}
	m.renewals.WithLabelValues(resultFailed, string(r.known())).Inc()
	m.NextRenewal(retry)
}

// NextRenewal records when the next renewal is planned (a check that found
// nothing due yet moves it too).
func (m *Monitor) NextRenewal(t time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextRenewal = t
}

// state is a consistent copy of what the Monitor was told.
type state struct {
	started, up bool
	answering   *bool
	lastReload  time.Time
	nextRenewal time.Time
}

func (m *Monitor) state() state {
	m.mu.Lock()
	defer m.mu.Unlock()
	return state{started: m.started, up: m.up, answering: m.answering, lastReload: m.lastReload, nextRenewal: m.nextRenewal}
}

// buildInfo is certinit_build_info: always 1, the facts in its labels.
func buildInfo(version string) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "certinit_build_info",
		Help:        "Always 1; the labels say which certinit runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	}, func() float64 { return 1 })
}

// stateCollector exposes the gauges of the Monitor's state; a time that
// is not known yet is left out rather than shown as 1970.
type stateCollector struct{ m *Monitor }

var (
	brokerUpDesc = prometheus.NewDesc("certinit_broker_up",
		"1 while the broker process runs, 0 otherwise (also while certinit prepares).", nil, nil)
	answeringDesc = prometheus.NewDesc("certinit_broker_answering",
		"1 when the broker answered the last liveness check on its listener, 0 when it did not; absent without checks.", nil, nil)
	lastReloadDesc = prometheus.NewDesc("certinit_last_reload_success_timestamp_seconds",
		"When a change last reached the broker (Unix time); absent before the first.", nil, nil)
	nextRenewalDesc = prometheus.NewDesc("certinit_acme_next_renewal_timestamp_seconds",
		"When the next in-process renewal is planned (Unix time): the renewal window's start, or the retry after a failure.", nil, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{brokerUpDesc, answeringDesc, lastReloadDesc, nextRenewalDesc} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.state()
	ch <- prometheus.MustNewConstMetric(brokerUpDesc, prometheus.GaugeValue, boolValue(s.up))
	if s.answering != nil {
		ch <- prometheus.MustNewConstMetric(answeringDesc, prometheus.GaugeValue, boolValue(*s.answering))
	}
	if !s.lastReload.IsZero() {
		ch <- prometheus.MustNewConstMetric(lastReloadDesc, prometheus.GaugeValue, unixSeconds(s.lastReload))
	}
	if !s.nextRenewal.IsZero() && c.m.renewals != nil {
		ch <- prometheus.MustNewConstMetric(nextRenewalDesc, prometheus.GaugeValue, unixSeconds(s.nextRenewal))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t as Prometheus writes times: seconds since 1970, with
// the fraction.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
