package metrics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Paths of the health endpoints, on the metrics listener.
const (
	HealthPath = "/healthz"
	ReadyPath  = "/readyz"
)

// Healthy is /healthz: whether certinit should be left running. It is true
// while certinit prepares (a pod still waiting for its certificate with
// --wait must not be killed by its liveness probe), and afterwards while
// the broker process runs and, where a liveness check runs, answers.
// The text says why, in one line.
func (m *Monitor) Healthy() (bool, string) {
	s := m.state()
	if !s.started {
		return true, "preparing"
	}
	if why := s.brokerDown(); why != "" {
		return false, why
	}
	return true, "ok"
}

// Ready is /readyz: whether the broker should get new clients. It is true
// only when the broker runs (and answers, where checked) and the
// certificate it serves is valid for longer than --ready-min-validity: the
// one a handshake with its listener returns when a listener is known,
// otherwise the file it loads (the --copy-to copy, else --cert). The text
// says why, in one line.
func (m *Monitor) Ready(ctx context.Context) (bool, string) {
	s := m.state()
	if !s.started {
		return false, "preparing: the broker has not started"
	}
	if why := s.brokerDown(); why != "" {
		return false, why
	}
	now := m.now()
	for _, c := range m.servedCerts() {
		cert, err := look(ctx, c)
		if err != nil && (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) { // a handshake cut at the deadline is a bare i/o timeout
			return false, fmt.Sprintf("%s certificate %s: the listener did not answer in time", c.Role, c.Path)
		}
		if err != nil {
			return false, fmt.Sprintf("%s certificate %s: %v", c.Role, c.Path, err)
		}
		if now.Before(cert.NotBefore) {
			return false, fmt.Sprintf("%s certificate %s is not valid before %s", c.Role, c.Path, rfc3339(cert.NotBefore))
		}
		if left := cert.NotAfter.Sub(now); left <= m.minValidity {
			if left <= 0 {
				return false, fmt.Sprintf("%s certificate %s expired at %s", c.Role, c.Path, rfc3339(cert.NotAfter))
			}
			return false, fmt.Sprintf("%s certificate %s expires at %s, in %s: not more than --ready-min-validity %s",
				c.Role, c.Path, rfc3339(cert.NotAfter), left.Round(time.Second), m.minValidity)
		}
	}
	return true, "ok"
}

// brokerDown says why the broker is neither healthy nor ready, or "".
func (s state) brokerDown() string {
	switch {
	case !s.up:
		return "broker not running"
	case s.answering != nil && !*s.answering:
		return "broker not answering on its listener"
	}
	return ""
}

// servedCerts are the certificates readiness depends on: what the broker's
// listeners send, or, when no listener is known, the file it loads.
func (m *Monitor) servedCerts() []Cert {
	for _, role := range []Role{RoleServed, RoleCopy, RoleCert} {
		var out []Cert
		for _, c := range m.certs {
			if c.Role == role {
				out = append(out, c)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
