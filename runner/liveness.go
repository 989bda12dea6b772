package runner

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/certinit/certinit/mosquittoconf"
	"github.com/certinit/certinit/probe"
)

// Defaults of the liveness options (certinit run --liveness-*).
const (
	DefaultLivenessInterval  = 10 * time.Second
	DefaultLivenessThreshold = 3
	DefaultLivenessTimeout   = 5 * time.Second
)

// Liveness configures the check that the broker answers its clients, not
// only that its process is there (certinit run --liveness-*).
type Liveness struct {
	Interval  time.Duration // --liveness-interval: between checks; zero: no check
	Threshold int           // --liveness-threshold: missed checks in a row that restart the broker
	Timeout   time.Duration // --liveness-timeout: how long one check waits for an answer
	Addr      string        // --liveness-addr: HOST:PORT; empty: a listener of the broker's configuration
}

// check reports options that do not combine.
func (l Liveness) check() error {
	if l.Interval == 0 {
		return nil
	}
	if l.Threshold < 1 {
		return fmt.Errorf("--liveness-threshold: %d is too few: a restart needs at least 1 missed check", l.Threshold)
	}
	if l.Timeout <= 0 {
		return errors.New("--liveness-timeout must be more than zero")
	}
	if l.Addr != "" {
		if _, port, err := net.SplitHostPort(l.Addr); err != nil || port == "" {
			return fmt.Errorf("--liveness-addr: %q is not HOST:PORT", l.Addr)
		}
	}
	return nil
}

// A broker process can be alive and still answer nobody: Mosquitto 2.0.11
// spins at full CPU, ignoring SIGTERM, after some failed bridge TLS
// handshakes (fixed in 2.0.15). So run asks the broker's own listener what
// any client would: it connects, and over TLS shakes hands, then sends an
// MQTT CONNECT. The broker answers when a CONNACK of any code comes back,
// or a TLS alert (a listener that requires client certificates refuses
// the handshake): either means its loop is serving clients. Anything else
// within the timeout (no connection, a handshake or CONNACK that does not
// come, a connection closed without a word) is a missed check. The check
// does not verify the certificate: it asks whether the broker answers,
// not whether to trust it, sends no credentials and reads nothing but the
// CONNACK; an expired certificate must not restart a broker over and over.

// livenessCheck asks one listener whether the broker answers, and restarts
// the broker after Threshold missed checks in a row.
type livenessCheck struct {
	cfg  Liveness
	addr string
	tls  atomic.Int32 // tlsUnknown until a mode has answered, then tlsOn or tlsOff
	log  *slog.Logger
}

const (
	tlsUnknown int32 = iota // try TLS first, then plain MQTT
	tlsOn
	tlsOff
)

// newLiveness returns the check run wants, or nil: when it is off, or no
// listener is known (--liveness-addr, or one in the configuration).
func newLiveness(cfg Liveness, conf *mosquittoconf.Config, log *slog.Logger) *livenessCheck {
	if cfg.Interval == 0 {
		return nil
	}
	l := &livenessCheck{cfg: cfg, addr: cfg.Addr, log: log}
	var listeners []mosquittoconf.Endpoint
	if conf != nil {
		listeners = livenessListeners(conf)
	}
	switch {
	case l.addr != "":
		_, port, _ := net.SplitHostPort(l.addr)
		for _, e := range listeners {
			if _, p, _ := net.SplitHostPort(e.Addr); p == port {
				l.setTLS(e.TLS)
				break
			}
		}
	case len(listeners) > 0:
		l.addr = listeners[0].Addr
		l.setTLS(listeners[0].TLS)
	default:
		log.Debug("liveness check off: no listener to check (give --liveness-addr)")
		return nil
	}
	return l
}

func (l *livenessCheck) setTLS(on bool) {
	if on {
		l.tls.Store(tlsOn)
	} else {
		l.tls.Store(tlsOff)
	}
}

// run checks every Interval until ctx is done, tells answered each
// result, and calls restart after Threshold missed checks in a row;
// counting starts again after it.
func (l *livenessCheck) run(ctx context.Context, answered func(bool), restart func() error) {
	l.log.Info("liveness check", "addr", l.addr, "interval", l.cfg.Interval, "threshold", l.cfg.Threshold)
	t := time.NewTimer(l.cfg.Interval)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		layer, err := l.check(ctx)
		if ctx.Err() != nil {
			return
		}
		answered(err == nil)
		if err == nil {
			misses = 0
			l.log.Debug("broker answered", "addr", l.addr, "layer", layer)
		} else if misses++; misses < l.cfg.Threshold {
			l.log.Debug("broker did not answer", "addr", l.addr, "misses", misses, "err", err)
		} else {
			l.log.Warn("broker not answering", "addr", l.addr, "misses", misses, "err", err,
				"reason", fmt.Sprintf("%d checks in a row got no MQTT or TLS answer within %s; restarting it", misses, l.cfg.Timeout))
			if err := restart(); err != nil {
				l.log.Error("cannot restart the broker", "err", err)
			}
			misses = 0
		}
		t.Reset(l.cfg.Interval)
	}
}

// check asks the broker once and returns the layer that answered ("mqtt"
// or "tls"), or why nothing did. A listener whose mode is not known yet is
// tried with TLS, then as plain MQTT; the mode that answers is kept.
func (l *livenessCheck) check(ctx context.Context) (string, error) {
	mode := l.tls.Load()
	layer, err := l.ask(ctx, mode != tlsOff)
	if err != nil && mode == tlsUnknown && ctx.Err() == nil {
		if layer, err = l.ask(ctx, false); err == nil {
			l.tls.Store(tlsOff)
		}
	} else if err == nil && mode == tlsUnknown {
		l.tls.Store(tlsOn)
	}
	return layer, err
}

// ask connects to the listener, over TLS when useTLS, sends CONNECT and
// waits for the answer, all within Timeout.
func (l *livenessCheck) ask(ctx context.Context, useTLS bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return "", err
	}
	defer raw.Close()
	deadline, _ := ctx.Deadline()
	raw.SetDeadline(deadline)
	conn := raw
	if useTLS {
		host, _, _ := net.SplitHostPort(l.addr)
		tc := tls.Client(raw, &tls.Config{
			ServerName: host,
			// The check asks whether the broker answers, not whether to
			// trust it (see above): nothing secret is sent.
			InsecureSkipVerify: true,
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return tlsAnswer(err)
		}
		conn = tc
	}
	pkt, err := probe.Connect{ClientID: livenessClientID(), KeepAlive: 60}.Encode()
	if err != nil {
		return "", err
	}
	_, werr := conn.Write(pkt)
	// Read even when the write failed: over TLS 1.3 a listener that
	// requires client certificates refuses the client after the handshake
	// completed on the client's side, and its alert may be waiting while
	// the CONNECT meets a closed connection.
	if _, err := probe.ReadConnack(bufio.NewReader(conn)); err != nil {
		if layer, aerr := tlsAnswer(err); aerr == nil {
			return layer, nil
		}
		if werr != nil {
			return tlsAnswer(werr)
		}
		return "", err
	}
	return "mqtt", nil
}

// tlsAnswer turns err into an answer when it is a TLS alert the broker
// sent (crypto/tls reports those as a "remote error"), and keeps it as the
// reason of a missed check otherwise.
func tlsAnswer(err error) (string, error) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return "tls", nil
	}
	return "", err
}

// livenessClientID is "certinit-liveness-" and five random hex digits: 23
// characters, the longest client id every MQTT 3.1.1 broker must accept.
func livenessClientID() string {
	var b [3]byte
	rand.Read(b[:])
	return "certinit-liveness-" + hex.EncodeToString(b[:])[:5]
}

// livenessListeners are where the check can ask the broker of conf
// (mosquittoconf's Endpoints: each listener a client on this machine
// dials, or the local-only one), plain MQTT first, the cheaper check.
func livenessListeners(conf *mosquittoconf.Config) []mosquittoconf.Endpoint {
	var plain, withTLS []mosquittoconf.Endpoint
	for _, e := range conf.Endpoints() {
		if e.TLS {
			withTLS = append(withTLS, e)
		} else {
			plain = append(plain, e)
		}
	}
	return append(plain, withTLS...)
}
