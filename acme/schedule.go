package acme

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"
)

// renewal says when a certificate is due for renewal and why. The rules,
// in order:
//
//  1. RenewBefore, when configured, overrides the rest: renew when that
//     much is left (if the certificate lives longer than that; otherwise
//     rule 3);
//  2. the CA's renewal window (ARI), when the CA offers one: a random
//     point in it, asked again as the CA's Retry-After says;
//  3. otherwise when a third of the lifetime is left: day 60 of a 90-day
//     certificate (certbot's 30 days), day 30 of 45, hour 107 of a 160-hour
//     (six-day) one, which leaves two days to retry a failed renewal.
type renewal struct {
	at     time.Time
	rule   string // which rule decided: ruleRenewBefore, ruleARI or ruleLifetime
	why    string
	random bool      // at was drawn in the CA's window: no jitter on top
	ask    time.Time // when to ask the CA again (ARI); zero: no need
}

// The rules a renewal time comes from, and the reasons to order at once:
// the "rule" attribute of the log records "ordering certificate" and "next
// renewal", a word from this list where "reason" says it in words.
const (
	ruleRenewBefore = "renew_before" // rule 1
	ruleARI         = "ari"          // rule 2
	ruleLifetime    = "lifetime"     // rule 3
	ruleNone        = "none_cached"  // no usable certificate in the cache: order one
	ruleForced      = "forced"       // --force-renewal
)

// lifetimeLeft is the fraction of the lifetime left at a renewal under
// rule 3.
const lifetimeLeft = 3

// byLifetime is rule 3, with why saying what made it the rule.
func byLifetime(leaf *x509.Certificate, because string) renewal {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	why := "a third of its lifetime left"
	if because != "" {
		why += " (" + because + ")"
	}
	return renewal{at: leaf.NotAfter.Add(-life / lifetimeLeft), rule: ruleLifetime, why: why}
}

// byRenewBefore is rule 1, falling back to rule 3 when renewBefore is not
// shorter than the certificate's lifetime (it would be due the moment it
// is issued) or not set.
func byRenewBefore(leaf *x509.Certificate, renewBefore time.Duration) renewal {
	if renewBefore == 0 {
		return byLifetime(leaf, "")
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if renewBefore >= life {
		return byLifetime(leaf, fmt.Sprintf("renew-before %s is not shorter than its lifetime %s", renewBefore, life.Round(time.Second)))
	}
	return renewal{at: leaf.NotAfter.Add(-renewBefore), rule: ruleRenewBefore, why: fmt.Sprintf("renew-before %s", renewBefore)}
}

// schedule is the ACME issuer's renewal time for the certificate cached
// under key: rules 1 to 3.
func (is *ACMEIssuer) schedule(ctx context.Context, key string, leaf *x509.Certificate, now time.Time) renewal {
	if is.cfg.RenewBefore > 0 {
		return byRenewBefore(leaf, is.cfg.RenewBefore)
	}
	st := is.ariFor(ctx, key, leaf, now)
	if st.None != "" {
		r := byLifetime(leaf, st.None)
		r.ask = st.NextFetch
		return r
	}
	why := fmt.Sprintf("the CA's renewal window %s to %s (ARI)",
		st.Start.UTC().Format(time.RFC3339), st.End.UTC().Format(time.RFC3339))
	if !now.Before(st.End) {
		why = fmt.Sprintf("the CA's renewal window closed at %s (ARI): renew now", st.End.UTC().Format(time.RFC3339))
	}
	if st.Explanation != "" {
		why += "; the CA explains: " + st.Explanation
	}
	return renewal{at: st.RenewAt, rule: ruleARI, why: why, random: true, ask: st.NextFetch}
}
