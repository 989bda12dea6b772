package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/crypto/acme"
)

// Challenge types certinit answers.
const (
	chHTTP01    = "http-01"
	chTLSALPN01 = "tls-alpn-01"
	chDNS01     = "dns-01"
)

// challengeServers are the listeners one order opens for the CA's
// validation requests, and closes when the order ends. They answer only
// the order's challenges: the HTTP-01 server has no other page, and the
// TLS-ALPN-01 server completes only handshakes that offer nothing but
// "acme-tls/1" for a name it has a challenge certificate for, so neither
// serves the broker's certificate.
type challengeServers struct {
	offer   map[string]bool // challenge types with a listener
	closers []func()

	mu     sync.Mutex
	tokens map[string]string           // HTTP-01: token -> key authorization
	certs  map[string]*tls.Certificate // TLS-ALPN-01: TLS server name -> certificate
}

// startChallengeServers opens the configured listeners. A listener that
// cannot bind while the other one can is left out with a warning (a web
// server on 443 should not stop HTTP-01); when none binds, the first
// error is returned.
func startChallengeServers(cfg Config, log *slog.Logger) (*challengeServers, error) {
	s := &challengeServers{offer: map[string]bool{}, tokens: map[string]string{}, certs: map[string]*tls.Certificate{}}
	var first error
	if cfg.HTTPAddr != "" {
		if ln, err := net.Listen("tcp", cfg.HTTPAddr); err != nil {
			first = listenError("HTTP-01 listener "+cfg.HTTPAddr, err)
		} else {
			s.serveHTTP(ln, log)
		}
	}
	if cfg.TLSAddr != "" {
		if ln, err := net.Listen("tcp", cfg.TLSAddr); err != nil && first == nil {
			first = listenError("TLS-ALPN-01 listener "+cfg.TLSAddr, err)
		} else if err == nil {
			s.serveTLSALPN(ln, log)
		}
	}
	if len(s.offer) == 0 {
		return nil, first
	}
	if first != nil {
		log.Warn("challenge listener unavailable; ordering with the other one", "err", first)
	}
	return s, nil
}

// answer makes the listener of ch's type answer it for identifier.
func (s *challengeServers) answer(c *acme.Client, ch *acme.Challenge, identifier string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ch.Type {
	case chHTTP01:
		ka, err := c.HTTP01ChallengeResponse(ch.Token)
		if err != nil {
			return err
		}
		s.tokens[ch.Token] = ka
	case chTLSALPN01:
		cert, err := c.TLSALPN01ChallengeCert(ch.Token, identifier)
		if err != nil {
			return err
		}
		s.certs[alpnServerName(identifier)] = &cert
	}
	return nil
}

// alpnServerName is the TLS server name the CA sends when it validates
// identifier: the name, or for an IP address its reverse-mapping name
// (RFC 8738 section 6).
func alpnServerName(identifier string) string {
	if isIP(identifier) {
		arpa, _ := dns.ReverseAddr(identifier)
		return strings.TrimSuffix(arpa, ".")
	}
	return identifier
}

func (s *challengeServers) serveHTTP(ln net.Listener, log *slog.Logger) {
	const prefix = "/.well-known/acme-challenge/"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ka, ok := s.tokens[strings.TrimPrefix(r.URL.Path, prefix)]
		s.mu.Unlock()
		if !ok || !strings.HasPrefix(r.URL.Path, prefix) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, ka)
	})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	s.closers = append(s.closers, func() { srv.Close(); <-done })
	s.offer[chHTTP01] = true
	log.Debug("HTTP-01 listener open", "addr", ln.Addr().String())
}

func (s *challengeServers) serveTLSALPN(ln net.Listener, log *slog.Logger) {
	conf := &tls.Config{
		NextProtos: []string{acme.ALPNProto},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if len(hello.SupportedProtos) != 1 || hello.SupportedProtos[0] != acme.ALPNProto {
				return nil, errors.New("this listener answers only ACME TLS-ALPN-01 challenges")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if c, ok := s.certs[strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")]; ok {
				return c, nil
			}
			return nil, errors.New("no TLS-ALPN-01 challenge for " + hello.ServerName)
		},
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); acceptTLSALPN(ln, conf, &wg) }()
	s.closers = append(s.closers, func() { ln.Close(); wg.Wait() })
	s.offer[chTLSALPN01] = true
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
