package acme

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// How often the name servers are asked for a published record, and how
// often the log says that the wait goes on.
var (
	dnsPollInterval = 2 * time.Second
	dnsProgressLog  = 10 * time.Second
)

// txtRecord is the TXT record that answers one DNS-01 challenge.
type txtRecord struct {
	domain string // the name validated; for a wildcard, the name below "*."
	fqdn   string // where the record goes: _acme-challenge.DOMAIN., or the end of its CNAME chain
	value  string // base64url of the key authorization's SHA-256 (RFC 8555 section 8.4)
	zone   string // the zone fqdn is in, once looked up
	// refused: the publication failed so that the record cannot be
	// there (a DNS server refused the update, which is atomic), so it
	// needs no removal.
	refused bool

	// certbot's manual-hook environment
	all        []string // every domain validated through DNS-01 in this order
	remaining  int      // challenges after this one
	authOutput string   // what the publishing hook printed
}

// dnsPublisher puts a TXT record into the DNS and takes it out again.
type dnsPublisher interface {
	present(ctx context.Context, r *txtRecord) error
	cleanup(ctx context.Context, r *txtRecord) error
	String() string // names it in errors: the hook's command, the server
}

// dnsSolver answers the DNS-01 challenges of one order: it publishes every
// record, waits until each is visible at its zone's name servers, and
// removes them again afterwards, whatever happened in between.
type dnsSolver struct {
	pub     dnsPublisher
	view    *dnsView
	timeout time.Duration // bounds each publication and the wait for visibility
	log     *slog.Logger
}

// newRecord says where the TXT record for domain goes: a CNAME at
// _acme-challenge.DOMAIN delegates it (RFC 8555 section 8.4 allows the
// validation to follow it), and the record is published at the end of the
// chain.
func (s *dnsSolver) newRecord(ctx context.Context, domain, value string) (*txtRecord, error) {
	fqdn, err := s.view.followCNAME(ctx, "_acme-challenge."+domain+".")
	if err != nil {
		return nil, err
	}
	if fqdn != "_acme-challenge."+domain+"." {
		s.log.Info("_acme-challenge is delegated by CNAME", "domain", domain, "fqdn", fqdn)
	}
	return &txtRecord{domain: domain, fqdn: fqdn, value: value}, nil
}

// publish presents every record and waits until all are visible. The
// returned cleanup removes every record whose publication was started,
// failed ones included (a hook may fail after it added the record); it
// must be called in every case, and runs even after ctx has ended.
func (s *dnsSolver) publish(ctx context.Context, recs []*txtRecord) (cleanup func(), err error) {
	var started []*txtRecord
	cleanup = func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		for _, r := range started {
			if r.refused {
				continue
			}
			if err := s.pub.cleanup(cctx, r); err != nil {
				s.log.Error("could not remove the DNS-01 TXT record", "domain", r.domain, "fqdn", r.fqdn, "err", err)
				continue
			}
			s.log.Info("removed the DNS-01 TXT record", "domain", r.domain, "fqdn", r.fqdn)
		}
	}
	for _, r := range recs {
		started = append(started, r)
		if err := s.pub.present(ctx, r); err != nil {
			return cleanup, &Error{Kind: ErrChallenge, Object: r.domain, Err: err}
		}
		s.log.Info("published the DNS-01 TXT record", "domain", r.domain, "fqdn", r.fqdn, "via", s.pub.String())
	}
	return cleanup, s.waitVisible(ctx, recs)
}

// waitVisible asks each record's name servers until all of them answer
// with the record, for at most s.timeout (and the last round of
// questions), and logs the progress.
func (s *dnsSolver) waitVisible(ctx context.Context, recs []*txtRecord) error {
	start := time.Now()
	deadline := time.NewTimer(s.timeout)
	defer deadline.Stop()
	lctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	servers := map[*txtRecord][]string{}
	for _, r := range recs {
		var err error
		if r.zone == "" {
			if r.zone, err = s.view.zoneOf(lctx, r.fqdn); err != nil {
				return &Error{Kind: ErrChallenge, Object: r.domain, Err: err}
			}
		}
		if servers[r], err = s.view.nameServers(lctx, r.zone); err != nil {
			return &Error{Kind: ErrChallenge, Object: r.domain, Err: err}
		}
	}
	var lastLog time.Time
	for {
		missing := s.missing(ctx, servers)
		if len(missing) == 0 {
			s.log.Info("DNS-01 TXT records visible", "records", len(recs), "waited", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Since(lastLog) >= dnsProgressLog {
			for r, why := range missing {
				s.log.Info("waiting for the DNS-01 TXT record", "domain", r.domain, "fqdn", r.fqdn,
					"missing_at", strings.Join(why, "; "), "waited", time.Since(start).Round(time.Second), "timeout", s.timeout)
			}
			lastLog = time.Now()
		}
		poll := time.NewTimer(dnsPollInterval)
		select {
		case <-ctx.Done():
			poll.Stop()
			return ctx.Err()
		case <-deadline.C:
			poll.Stop()
			return notVisible(missing, time.Since(start), s.pub)
		case <-poll.C:
		}
	}
}

// missing asks every server that has not yet shown a record and returns,
// per record still missing somewhere, "SERVER: what it answered". A server
// that had the record is not asked again.
func (s *dnsSolver) missing(ctx context.Context, servers map[*txtRecord][]string) map[*txtRecord][]string {
	out := map[*txtRecord][]string{}
	for r, list := range servers {
		var left []string
		for _, srv := range list {
			ok, why := s.view.hasTXT(ctx, srv, r.fqdn, r.value)
			if !ok {
				left = append(left, srv)
				out[r] = append(out[r], srv+": "+why)
			}
		}
		servers[r] = left
	}
	return out
}

// notVisible is the error for records that never appeared.
func notVisible(missing map[*txtRecord][]string, waited time.Duration, pub dnsPublisher) error {
	var recs []*txtRecord
	for r := range missing {
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].fqdn < recs[j].fqdn })
	r := recs[0]
	err := fmt.Errorf("TXT record %s %q not visible after %s (%s)", r.fqdn, r.value,
		waited.Round(time.Second), strings.Join(missing[r], "; "))
	return &Error{Kind: ErrChallenge, Object: r.domain, Err: err,
		Hint: fmt.Sprintf("check that %s publishes it in zone %s, and that the zone's name servers have it; the DNS timeout bounds this wait", pub, r.zone)}
}
