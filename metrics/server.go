package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsPath is where the exposition is served.
const MetricsPath = "/metrics"

// HTTP timeouts of the listener: a client that sends its request slowly
// or reads slowly cannot hold a connection for long. A scrape ends well
// before writeTimeout: its handshakes share one deadline (scrapeBudget).
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = time.Minute
	shutdownTimeout   = 5 * time.Second
	// readyBudget bounds all of /readyz's handshakes together, below
	// `certinit health`'s own timeout (checkTimeout), so that a listener
	// that does not answer is a 503 with its reason, not a timeout.
	readyBudget = 4 * time.Second
)

// Server is the listener of `run --metrics-addr`.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Start listens on addr (host:port; an empty host is every address) and
// serves /metrics, /healthz and /readyz for m until Close. The listener is
// open when Start returns, so a busy port is an error here, before the
// broker starts. With addr empty it opens nothing, starts no goroutine
// and returns nil; Close on nil does nothing.
func Start(addr string, m *Monitor) (*Server, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	s := &Server{ln: ln, done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           m.handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("metrics listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	m.log.Info("metrics listening", "addr", ln.Addr().String())
	return s, nil
}

// Addr is the address the listener is bound to (the port chosen for ":0").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the listener, lets requests in flight finish for a moment,
// and returns once the serving goroutine has ended.
func (s *Server) Close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}

// handler routes the three paths; anything else is 404.
func (m *Monitor) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+MetricsPath, m.serveMetrics)
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		ok, why := m.Healthy()
		answer(w, ok, why)
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyBudget)
		defer cancel()
		ok, why := m.Ready(ctx)
		answer(w, ok, why)
	})
	return mux
}

// serveMetrics is /metrics. The certificates are read within one deadline
// for the whole scrape (scrapeBudget): a listener that does not answer
// shows as not read, and the scrape still arrives in time with everything
// else, instead of being lost whole.
func (m *Monitor) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), scrapeBudget(r.Header))
	defer cancel()
	certs := prometheus.NewRegistry()
	certs.MustRegister(certCollector{m: m, ctx: ctx})
	promhttp.HandlerFor(prometheus.Gatherers{m.reg, certs}, promhttp.HandlerOpts{
		ErrorLog:      slogPrintln{m},
		ErrorHandling: promhttp.ContinueOnError,
		// The exposition is a few kilobytes: a compressor's state would
		// cost more memory than the bytes it saves (docs/metrics.md).
		DisableCompression: true,
	}).ServeHTTP(w, r)
}

// Prometheus says in each scrape how long it waits for the answer (its
// scrape_timeout, 10 s unless configured); an answer later than that is
// lost whole.
const (
	scrapeTimeoutHeader  = "X-Prometheus-Scrape-Timeout-Seconds"
	defaultScrapeTimeout = 10 * time.Second
)

// scrapeBudget is how long one scrape may spend reading certificates:
// nine tenths of what the scraper waits (the header, else Prometheus'
// default, and never more than writeTimeout), the rest being left for the
// other metrics and the answer itself.
func scrapeBudget(h http.Header) time.Duration {
	timeout := defaultScrapeTimeout
	if s, err := strconv.ParseFloat(h.Get(scrapeTimeoutHeader), 64); err == nil && s > 0 {
		timeout = time.Duration(min(s, writeTimeout.Seconds()) * float64(time.Second))
	}
	return timeout - timeout/10
}

// answer writes a health verdict: 200 or 503, and the reason as one line
// of text.
func answer(w http.ResponseWriter, ok bool, why string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	io.WriteString(w, why+"\n")
}

// slogPrintln hands promhttp's error messages to the Monitor's log.
type slogPrintln struct{ m *Monitor }

func (l slogPrintln) Println(v ...any) { l.m.log.Warn("metrics: " + fmt.Sprint(v...)) }
