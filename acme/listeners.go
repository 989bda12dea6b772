package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// challengeServers are the listeners one issuance round opens for the CA's
// validation requests, and closes when the round ends. They answer only
// challenges: the HTTP-01 server has no other page, and the TLS-ALPN-01
// server completes only handshakes that offer nothing but "acme-tls/1",
// so neither serves the broker's certificate nor orders one for a stranger.
type challengeServers struct {
	closers []func()
}

// startChallengeServers opens the configured listeners for m and returns
// them with the challenge types they serve. A listener that cannot bind
// while the other one can is left out with a warning (a web server on 443
// should not stop HTTP-01); when none binds, the first error is returned.
// It must run before the first GetCertificate: autocert offers HTTP-01
// only once HTTPHandler has been called.
func startChallengeServers(cfg Config, m *autocert.Manager, log *slog.Logger) (*challengeServers, map[string]bool, error) {
	s := &challengeServers{}
	offer := map[string]bool{}
	var first error
	if cfg.HTTPAddr != "" {
		if ln, err := net.Listen("tcp", cfg.HTTPAddr); err != nil {
			first = listenError("HTTP-01 listener "+cfg.HTTPAddr, err)
		} else {
			s.serveHTTP(ln, m, log)
			offer["http-01"] = true
		}
	}
	if cfg.TLSAddr != "" {
		if ln, err := net.Listen("tcp", cfg.TLSAddr); err != nil && first == nil {
			first = listenError("TLS-ALPN-01 listener "+cfg.TLSAddr, err)
		} else if err == nil {
			s.serveTLSALPN(ln, m, log)
			offer["tls-alpn-01"] = true
		}
	}
	if len(offer) == 0 {
		return nil, nil, first
	}
	if first != nil {
		log.Warn("challenge listener unavailable; ordering with the other one", "err", first)
	}
	return s, offer, nil
}

func (s *challengeServers) serveHTTP(ln net.Listener, m *autocert.Manager, log *slog.Logger) {
	srv := &http.Server{
		Handler:           m.HTTPHandler(http.NotFoundHandler()),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	s.closers = append(s.closers, func() { srv.Close(); <-done })
	log.Debug("HTTP-01 listener open", "addr", ln.Addr().String())
}

func (s *challengeServers) serveTLSALPN(ln net.Listener, m *autocert.Manager, log *slog.Logger) {
	conf := &tls.Config{
		NextProtos: []string{acme.ALPNProto},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if len(hello.SupportedProtos) != 1 || hello.SupportedProtos[0] != acme.ALPNProto {
				return nil, errors.New("this listener answers only ACME TLS-ALPN-01 challenges")
			}
			return m.GetCertificate(hello)
		},
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); acceptTLSALPN(ln, conf, &wg) }()
	s.closers = append(s.closers, func() { ln.Close(); wg.Wait() })
	log.Debug("TLS-ALPN-01 listener open", "addr", ln.Addr().String())
}

// acceptTLSALPN completes one handshake per connection, which is all a
// TLS-ALPN-01 validation needs, then closes it.
func acceptTLSALPN(ln net.Listener, conf *tls.Config, wg *sync.WaitGroup) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tls.Server(c, conf).HandshakeContext(ctx)
		}()
	}
}

func (s *challengeServers) close() {
	for _, c := range s.closers {
		c()
	}
	s.closers = nil
}

func listenError(what string, err error) error {
	return &Error{Object: what, Err: err,
		Hint: "another program may hold the port; ports below 1024 need root or CAP_NET_BIND_SERVICE"}
}
