package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsPath is where the exposition is served.
const MetricsPath = "/metrics"

// HTTP timeouts of the listener: a client that sends its request slowly
// or reads slowly cannot hold a connection for long. A scrape may wait
// for one handshake per served certificate (fetchTimeout each).
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = time.Minute
	shutdownTimeout   = 5 * time.Second
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
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrintln{m},
		ErrorHandling: promhttp.ContinueOnError,
		// The exposition is a few kilobytes: a compressor's state would
		// cost more memory than the bytes it saves (docs/metrics.md).
		DisableCompression: true,
	}))
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		ok, why := m.Healthy()
		answer(w, ok, why)
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		ok, why := m.Ready(r.Context())
		answer(w, ok, why)
	})
	return mux
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
