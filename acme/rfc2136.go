package acme

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// rfc2136Publisher publishes DNS-01 records by RFC 2136 dynamic updates
// signed with TSIG (RFC 8945), the way nsupdate does: BIND, Knot and
// PowerDNS take them, and a scratch image needs neither a shell nor
// nsupdate. The update names the zone the record is in (looked up through
// the resolver), adds exactly one TXT record, and later deletes exactly
// that record, so that other values at the same name (a wildcard and its
// base name are validated at the same name) stay.
//
// The DNS library is github.com/miekg/dns, which lego and most Go ACME
// clients use for the same job: it signs the update and checks the
// signature of the answer. docs/acme.md says why it is preferred to
// x/net/dns/dnsmessage with TSIG written here.
type rfc2136Publisher struct {
	server  string // HOST:PORT
	key     *tsigKey
	view    *dnsView // finds the zone
	timeout time.Duration
}

// txtTTL is the TTL of a published record: short, as it lives for the
// validation only.
const txtTTL = 60

func (p *rfc2136Publisher) String() string { return "the RFC 2136 server " + p.server }

func (p *rfc2136Publisher) present(ctx context.Context, r *txtRecord) error {
	return p.update(ctx, r, true)
}

func (p *rfc2136Publisher) cleanup(ctx context.Context, r *txtRecord) error {
	return p.update(ctx, r, false)
}

func (p *rfc2136Publisher) update(ctx context.Context, r *txtRecord, add bool) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if r.zone == "" {
		z, err := p.view.zoneOf(ctx, r.fqdn)
		if err != nil {
			return err
		}
		r.zone = z
	}
	rr := &dns.TXT{
		Hdr: dns.RR_Header{Name: r.fqdn, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: txtTTL},
		Txt: []string{r.value},
	}
	m := new(dns.Msg)
	m.SetUpdate(r.zone)
	if add {
		m.Insert([]dns.RR{rr})
	} else {
		m.Remove([]dns.RR{rr}) // this value only (class NONE, RFC 2136 section 2.5.4)
	}
	// The TSIG time is the real one: the server checks it against its
	// clock within the fudge.
	m.SetTsig(p.key.name, p.key.algorithm, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{p.key.name: p.key.secret}}
	resp, _, err := c.ExchangeContext(ctx, m, p.server)
	if resp != nil && resp.Rcode != dns.RcodeSuccess {
		r.refused = add
		return p.refused(r, resp, add)
	}
	if err != nil {
		return fmt.Errorf("RFC 2136 server %s: update of zone %s: %w", p.server, r.zone, err)
	}
	return nil
}

// refused explains an update the server answered with an error code.
func (p *rfc2136Publisher) refused(r *txtRecord, resp *dns.Msg, add bool) error {
	code := dns.RcodeToString[resp.Rcode]
	if t := resp.IsTsig(); t != nil && t.Error != dns.RcodeSuccess {
		code += ", TSIG " + dns.RcodeToString[int(t.Error)]
	}
	op := "adding"
	if !add {
		op = "deleting"
	}
	var why string
	switch resp.Rcode {
	case dns.RcodeRefused:
		why = fmt.Sprintf("the server does not let key %s change TXT records at %s (its update-policy or allow-update)", p.key.name, r.fqdn)
	case dns.RcodeNotAuth:
		why = fmt.Sprintf("the server does not accept key %s for zone %s: check the key's name, algorithm and secret, and that the server is the zone's primary", p.key.name, r.zone)
	case dns.RcodeNotZone:
		why = fmt.Sprintf("%s is not in zone %s at this server", r.fqdn, r.zone)
	default:
		why = "the server refused the update"
	}
	return fmt.Errorf("RFC 2136 server %s: %s TXT %s in zone %s: %s (%s)", p.server, op, r.fqdn, r.zone, code, why)
}
