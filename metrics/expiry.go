package metrics

import (
	"context"
	"crypto/x509"
	"log/slog"
	"time"
)

// How often Expiry looks at the certificates, and how long a certificate
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

// Expiry is the log's side of what the metrics show: a warning for each
// certificate in the last tenth of its validity or with no more than
// --ready-min-validity left, and an error for one that expired, at most
// once a day per certificate. It needs neither a Monitor nor a listener,
// so run keeps one whether or not metrics are served; what it looks at is
// the caller's choice (the files alone cost no handshake with the broker).
type Expiry struct {
	certs       []Cert
	minValidity time.Duration
	log         *slog.Logger
	now         func() time.Time     // test seam
	recheck     chan struct{}        // Recheck was called (capacity 1)
	warned      map[string]time.Time // by Cert.key (and CA, for a --trust file): when it was last warned about; Loop's alone
}

// NewExpiry returns an Expiry for certs; minValidity is run's
// --ready-min-validity. It looks at nothing until Loop.
func NewExpiry(certs []Cert, minValidity time.Duration, log *slog.Logger) *Expiry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Expiry{certs: certs, minValidity: minValidity, log: log, now: time.Now,
		recheck: make(chan struct{}, 1), warned: map[string]time.Time{}}
}

// Loop looks at the certificates at once, then every hour and after every
// Recheck, until ctx is done.
func (e *Expiry) Loop(ctx context.Context) {
	t := time.NewTicker(warnEvery)
	defer t.Stop()
	for {
		e.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.recheck:
		}
	}
}

// Recheck asks Loop to look again soon: a reload may have brought a
// certificate that is short already. It never blocks.
func (e *Expiry) Recheck() {
	select { // a look already pending covers this one too
	case e.recheck <- struct{}{}:
	default:
	}
}

// check looks at every certificate once and logs those near their end
// that were not warned about in the last day: of a --trust file, each CA
// (as its own series in the metrics); of any other file or a listener, the
// certificate that expires first. A certificate that cannot be read is not
// reported here: the reload path refuses it and the exposition shows it.
func (e *Expiry) check(ctx context.Context) {
	now := e.now()
	for _, c := range e.certs {
		certs, err := read(ctx, c)
		if err != nil {
			continue
		}
		if c.Role != RoleTrust {
			e.warn(c, firstExpiring(certs), nil, now)
			continue
		}
		for _, ca := range distinctCAs(certs) {
			e.warn(c, ca.cert, &ca, now)
		}
	}
}

// warn logs cert, a certificate of c (for a --trust file, the CA ca), if
// it is near its end and was not warned about in the last day.
func (e *Expiry) warn(c Cert, cert *x509.Certificate, ca *trustCA, now time.Time) {
	key, args := c.key(), []any{"path", c.Path, "role", c.Role}
	if ca != nil {
		key += "\x00" + ca.sha256
		args = append(args, "subject_hash", ca.subjectHash, "sha256", ca.sha256)
	}
	why := expiryReason(cert, now, e.minValidity)
	if why == "" || !e.due(key, now) {
		return
	}
	args = append(args, "not_after", rfc3339(cert.NotAfter), "reason", why)
	if why == expiryExpired {
		e.log.Error("certificate expired", args...)
		return
	}
	args = append(args, "remaining", cert.NotAfter.Sub(now).Round(time.Second).String())
	if why == expiryMinValidity {
		args = append(args, "ready_min_validity", e.minValidity.String())
	}
	e.log.Warn("certificate expires soon", args...)
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

// due reports whether the certificate known as key may be warned about at
// now, and if so notes that it was.
func (e *Expiry) due(key string, now time.Time) bool {
	if last, ok := e.warned[key]; ok && now.Sub(last) < warnAgain {
		return false
	}
	e.warned[key] = now
	return true
}
