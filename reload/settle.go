package reload

import (
	"context"
	"time"
)

// DefaultSettle is certinit run's --settle: how long a pair that fails its
// checks may wait for the changes that complete it.
const DefaultSettle = 5 * time.Second

// A renewal seldom changes the pair in one step. certbot writes its archive
// files and then swaps the live/ links one by one, the key's before the
// certificate's, so the live pair is a new key beside the old certificate
// for a moment, and a link is missing between its unlink and its symlink.
// Most tools write the key and then the certificate; a file written in
// place is empty, then partial. Only the Kubernetes ..data swap changes
// every file at once. Each of these steps fails the pair's checks exactly
// as a broken renewal does: nothing on disk tells them apart, except that
// the next change completes the one and not the other.
//
// So the pair is checked at every change, and the first check that passes
// reloads at once; a check that fails is not refused but settling: the
// pair waits for more changes. It is refused, with one logged line and the
// reason of that moment, when it still fails Settle after the first failing
// check (Run checks it again then, so a certificate that has since become
// valid reloads instead). Changes in between do not move that moment, so a
// refusal comes at most Settle after the pair went bad; and a bad state is
// refused once: the next failing check after a refusal, which only a
// further change brings, waits Settle again. With Settle zero a failing
// check is refused at once.

// settling is a failing pair waiting for more changes: the Reloader's,
// guarded by its mu.
type settling struct {
	since time.Time   // the first failing check since the pair last passed or was refused; zero: none
	timer *time.Timer // fires Settle after since (Run)
}

func newSettling() settling {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return settling{timer: t}
}

// unsettled records a failing check of the pair (err is why) and reports
// whether the pair may still wait for more changes; when it may not, the
// caller refuses it. The caller holds mu.
func (r *Reloader) unsettled(err error) bool {
	if r.cfg.Settle <= 0 {
		return false
	}
	now := time.Now()
	if r.settle.since.IsZero() {
		r.settle.since = now
		r.settle.timer.Reset(r.cfg.Settle)
	}
	if left := r.cfg.Settle - now.Sub(r.settle.since); left > 0 {
		r.log.Debug("pair not settled", "path", r.cfg.Files.Cert, "reason", err.Error(), "refused_in", left.Round(time.Millisecond))
		return true
	}
	r.settle.since = time.Time{}
	return false
}

// settled records a check of the pair that passed. The caller holds mu.
func (r *Reloader) settled() {
	r.settle.since = time.Time{}
	r.settle.timer.Stop()
}

// Run checks a pair that has been failing for Config.Settle again, and
// reloads it or refuses it, and sends the signals Forward asks for, until
// ctx is done. Without Run a failing pair waits for the next change.
func (r *Reloader) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.forward:
			r.forwardSignal(ctx)
		case <-r.settle.timer.C:
			r.mu.Lock()
			// A check since the timer fired may have settled it.
			if since := r.settle.since; !since.IsZero() && time.Since(since) >= r.cfg.Settle {
				_ = r.check(ctx)
			}
			r.mu.Unlock()
		}
	}
}
