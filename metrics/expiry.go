package metrics

import (
	"context"
	"crypto/x509"
	"time"
)

// How often WarnLoop looks at the certificates, and how long a certificate
// it warned about stays quiet: a warning a day is enough to be noticed and
// few enough not to drown the log.
const (
	warnEvery = time.Hour
	warnAgain = 24 * time.Hour
)

// Why a certificate is warned about (the reason attribute of the record).
const (
	expiryExpired     = "expired"            // its validity has ended
	expiryMinValidity = "ready_min_validity" // less than --ready-min-validity left: /readyz fails
	expiryLastTenth   = "last_tenth"         // in the last tenth of its validity
)

// WarnLoop logs, until ctx is done, a warning for each managed certificate
// in the last tenth of its validity or with no more than
// --ready-min-validity left, and an error for one that expired, at most
// once a day per certificate. It looks at once, then every hour and after
// every reload (a new certificate may be short already), whether or not
// metrics are served: the log says it either way.
func (m *Monitor) WarnLoop(ctx context.Context) {
	t := time.NewTicker(warnEvery)
	defer t.Stop()
	for {
		m.checkExpiry(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.recheck:
		}
	}
}

// checkExpiry looks at every managed certificate once and logs those near
// their end that were not warned about in the last day. A certificate that
// cannot be read is not reported here: the reload path refuses it and the
// exposition shows it.
func (m *Monitor) checkExpiry(ctx context.Context) {
	now := m.now()
	for _, c := range m.certs {
		cert, err := look(ctx, c)
		if err != nil {
			continue
		}
		why := expiryReason(cert, now, m.minValidity)
		if why == "" || !m.dueWarning(c, now) {
			continue
		}
		args := []any{"path", c.Path, "role", c.Role, "not_after", rfc3339(cert.NotAfter), "reason", why}
		if why == expiryExpired {
			m.log.Error("certificate expired", args...)
			continue
		}
		args = append(args, "remaining", cert.NotAfter.Sub(now).Round(time.Second).String())
		if why == expiryMinValidity {
			args = append(args, "ready_min_validity", m.minValidity.String())
		}
		m.log.Warn("certificate expires soon", args...)
	}
}

// expiryReason says why cert deserves a warning at now, or "".
func expiryReason(cert *x509.Certificate, now time.Time, minValidity time.Duration) string {
	left := cert.NotAfter.Sub(now)
	lifetime := cert.NotAfter.Sub(cert.NotBefore)
	switch {
	case left <= 0:
		return expiryExpired
	case minValidity > 0 && left <= minValidity:
		return expiryMinValidity
	case left <= lifetime/10:
		return expiryLastTenth
	}
	return ""
}

// dueWarning reports whether c may be warned about at now, and if so
// notes that it was.
func (m *Monitor) dueWarning(c Cert, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if last, ok := m.warned[c.key()]; ok && now.Sub(last) < warnAgain {
		return false
	}
	m.warned[c.key()] = now
	return true
}
