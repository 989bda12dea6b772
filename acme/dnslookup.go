package acme

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Seams for the tests, which run BIND on a random port of 127.0.0.1: where
// the system resolver is, and the port the zone's name servers answer on.
var (
	systemResolvers = func() ([]string, error) {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("system resolver: %w", err)
		}
		var out []string
		for _, s := range conf.Servers {
			out = append(out, net.JoinHostPort(s, conf.Port))
		}
		return out, nil
	}
	nameServerPort = "53"
)

// dnsQueryTimeout bounds one DNS exchange.
const dnsQueryTimeout = 5 * time.Second

// maxCNAMEs bounds a CNAME chain from _acme-challenge to the record.
const maxCNAMEs = 8

// dnsView is how certinit sees the DNS while it answers DNS-01: through
// resolvers (the system's, or --dns-resolver) it finds the zone of a
// record, follows a CNAME that delegates _acme-challenge elsewhere, and
// finds the zone's name servers; it then asks those (without recursion)
// whether the record is there, as the CA will. A named resolver is also
// asked in place of the name servers: it is where the user says the record
// must be visible, which tests need (their name server is on a random
// port) and which a split-horizon setup may want.
type dnsView struct {
	resolvers []string // HOST:PORT, asked in order
	named     bool     // the resolvers were named: ask them for the record too
}

func newDNSView(resolver string) (*dnsView, error) {
	if resolver != "" {
		return &dnsView{resolvers: []string{resolver}, named: true}, nil
	}
	rs, err := systemResolvers()
	if err == nil && len(rs) == 0 {
		err = errors.New("system resolver: no name server in /etc/resolv.conf")
	}
	if err != nil {
		return nil, err
	}
	return &dnsView{resolvers: rs}, nil
}

// exchange sends one query to server, over UDP and again over TCP when the
// answer was truncated.
func exchange(ctx context.Context, server, name string, qtype uint16, recurse bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = recurse
	m.SetEdns0(4096, false)
	ctx, cancel := context.WithTimeout(ctx, dnsQueryTimeout)
	defer cancel()
	r, _, err := (&dns.Client{Net: "udp"}).ExchangeContext(ctx, m, server)
	if err == nil && r.Truncated {
		r, _, err = (&dns.Client{Net: "tcp"}).ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, fmt.Errorf("DNS server %s: %s %s: %w", server, name, dns.TypeToString[qtype], err)
	}
	return r, nil
}

// resolve asks the resolvers in turn until one answers NOERROR or
// NXDOMAIN.
func (v *dnsView) resolve(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	var errs []error
	for _, s := range v.resolvers {
		r, err := exchange(ctx, s, name, qtype, true)
		switch {
		case err != nil:
			errs = append(errs, err)
		case r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError:
			errs = append(errs, fmt.Errorf("DNS server %s: %s %s: %s", s, name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode]))
		default:
			return r, nil
		}
	}
	return nil, errors.Join(errs...)
}

// followCNAME returns where a TXT record for name really goes: the end of
// the CNAME chain that starts at name (name itself without one).
func (v *dnsView) followCNAME(ctx context.Context, name string) (string, error) {
	name = dns.CanonicalName(name)
	for range maxCNAMEs {
		r, err := v.resolve(ctx, name, dns.TypeCNAME)
		if err != nil {
			return "", err
		}
		next := ""
		for _, rr := range r.Answer {
			if c, ok := rr.(*dns.CNAME); ok && dns.CanonicalName(c.Hdr.Name) == name {
				next = dns.CanonicalName(c.Target)
			}
		}
		if next == "" {
			return name, nil
		}
		name = next
	}
	return "", fmt.Errorf("%s: more than %d CNAMEs in a row", name, maxCNAMEs)
}

// zoneOf finds the zone name belongs to: the closest enclosing name with
// a SOA record, found in the answer at a zone's apex, or in the authority
// section of the answer for a name below it.
func (v *dnsView) zoneOf(ctx context.Context, name string) (string, error) {
	name = dns.CanonicalName(name)
	for _, off := range dns.Split(name) {
		q := name[off:]
		r, err := v.resolve(ctx, q, dns.TypeSOA)
		if err != nil {
			return "", err
		}
		for _, rr := range append(r.Answer, r.Ns...) {
			if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, name) {
				return dns.CanonicalName(soa.Hdr.Name), nil
			}
		}
	}
	return "", fmt.Errorf("%s: no zone found (no SOA record above it)", name)
}

// nameServers returns the addresses to ask whether a record of zone is
// visible: the named resolver, or each address of each NS of the zone.
func (v *dnsView) nameServers(ctx context.Context, zone string) ([]string, error) {
	if v.named {
		return v.resolvers, nil
	}
	r, err := v.resolve(ctx, zone, dns.TypeNS)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range r.Answer {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			a, err := v.resolve(ctx, ns.Ns, qt)
			if err != nil {
				continue
			}
			for _, rr := range a.Answer {
				switch rr := rr.(type) {
				case *dns.A:
					out = append(out, net.JoinHostPort(rr.A.String(), nameServerPort))
				case *dns.AAAA:
					out = append(out, net.JoinHostPort(rr.AAAA.String(), nameServerPort))
				}
			}
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("zone %s: no address found for its name servers", zone)
	}
	return out, nil
}

// hasTXT asks server whether name has a TXT record with value, and says
// what it answered when it has not.
func (v *dnsView) hasTXT(ctx context.Context, server, name, value string) (bool, string) {
	r, err := exchange(ctx, server, name, dns.TypeTXT, v.named)
	if err != nil {
		return false, err.Error()
	}
	if r.Rcode != dns.RcodeSuccess {
		return false, dns.RcodeToString[r.Rcode]
	}
	if !v.named && !r.Authoritative {
		return false, "an answer that is not authoritative (is it a name server of the zone?)"
	}
	var seen []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok && dns.CanonicalName(t.Hdr.Name) == dns.CanonicalName(name) {
			if strings.Join(t.Txt, "") == value {
				return true, ""
			}
			seen = append(seen, strings.Join(t.Txt, ""))
		}
	}
	if len(seen) == 0 {
		return false, "no TXT record"
	}
	return false, "other TXT values " + strings.Join(seen, ", ")
}
