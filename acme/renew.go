package acme

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Renewal loop timing. Tests shorten the retry delays.
var (
	retryFirst = time.Minute // first retry after a failed Obtain
	retryMax   = time.Hour   // retries back off exponentially up to this
	// checkMax bounds one sleep, so a wrong clock corrected later, or a
	// machine that was suspended, delays a renewal by at most this long.
	checkMax = 6 * time.Hour
)

// Attempt is what one Obtain of RenewLoop did, for Config.Report.
type Attempt struct {
	Renewed bool      // it wrote new files (onRenew is called with them)
	Err     error     // it failed; wraps one of the Err* kinds when the cause is known
	Next    time.Time // when the certificate is due next: its renewal time, or the retry after a failure
}

// RenewLoop implements Issuer. Its log lines name the CA's directory URL.
func (is *ACMEIssuer) RenewLoop(ctx context.Context, onRenew func(*Result)) {
	renewLoop(ctx, is.log.With("directory", is.cfg.DirectoryURL), is.Obtain, onRenew, is.cfg.Report)
}

// RenewLoop implements Issuer.
func (ca *LocalCA) RenewLoop(ctx context.Context, onRenew func(*Result)) {
	renewLoop(ctx, ca.log, ca.Obtain, onRenew, ca.cfg.Report)
}

// renewLoop is the one background loop of an issuer: Obtain (which
// contacts the CA only for a certificate that is due, or to ask the CA's
// renewal information again), report a change, sleep until the renewal is
// due or the CA is to be asked again, or back off after a failure. A
// renewal time drawn in the CA's window is already spread; a computed one
// gets jitter, so a fleet started together does not renew together.
// Obtain writes files only after a complete issuance, so until then the
// old files keep serving. report (if not nil) hears every attempt.
func renewLoop(ctx context.Context, log *slog.Logger, obtain func(context.Context) (*Result, error), onRenew func(*Result),
	report func(Attempt)) {
	failures := 0
	for {
		res, err := obtain(ctx)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err != nil {
			failures++
			wait = backoff(failures)
			log.Error("certificate renewal failed; the current files stay in place",
				"err", err, "attempt", failures, "retry_in", roundWait(wait))
			if report != nil {
				report(Attempt{Err: err, Next: nowFunc().Add(wait)})
			}
		} else {
			if report != nil {
				report(Attempt{Renewed: res.Changed, Next: res.NextRenewal()})
			}
			if res.Changed && onRenew != nil {
				onRenew(res)
			}
			next := res.NextRenewal()
			if wait = next.Sub(nowFunc()); wait > 0 {
				failures = 0
				if !res.Certs[0].random {
					wait += jitter(res)
				}
				if !res.ask.IsZero() {
					wait = min(wait, max(res.ask.Sub(nowFunc()), 0))
				}
				log.Debug("next certificate check", "at", nowFunc().Add(wait).UTC().Format(time.RFC3339),
					"renew_at", next.UTC().Format(time.RFC3339))
			} else {
				// Due again right after Obtain: the clock is far off the
				// CA's. Back off instead of ordering in a tight loop.
				failures++
				wait = backoff(failures)
				log.Warn("certificate is due for renewal right after being obtained; is the clock right?",
					"renew_at", next.UTC().Format(time.RFC3339), "retry_in", roundWait(wait))
			}
		}
		wait = max(min(wait, checkMax), 0)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the delay before retry n (from 1): doubling from retryFirst
// up to retryMax, then scattered over [75%, 125%).
func backoff(n int) time.Duration {
	d := retryFirst
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	d = min(d, retryMax)
	return d*3/4 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// roundWait rounds a retry delay for the log: to the second for real
// delays (a minute or more), to the millisecond for short ones.
func roundWait(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// jitter is a random delay of up to a tenth of the shortest renewal
// window, at most an hour, added to a scheduled renewal.
func jitter(res *Result) time.Duration {
	var window time.Duration
	for _, c := range res.Certs {
		w := c.NotAfter.Sub(c.RenewAt)
		if window == 0 || w < window {
			window = w
		}
	}
	limit := min(window/10, time.Hour)
	if limit <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(limit)))
}
