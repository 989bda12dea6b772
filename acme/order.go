package acme

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
)

// order runs one ACME order (RFC 8555 section 7.4) for every configured
// name at once, answers its challenges, and returns the certificate,
// cached. The account is registered (or found) first; the challenge
// listeners are open and DNS records published only while the order
// needs them.
func (is *ACMEIssuer) order(ctx context.Context) (*bundle, error) {
	rt := &roundTransport{base: is.base}
	c, err := is.newClient(ctx, rt)
	if err != nil {
		return nil, is.classify(ctx, err, rt)
	}
	opts, err := is.orderOptions(ctx, c)
	if err != nil {
		return nil, is.classify(ctx, err, rt)
	}
	o, err := c.AuthorizeOrder(ctx, identifiers(is.cfg.Domains), opts...)
	if err != nil {
		return nil, is.classify(ctx, err, rt)
	}
	if err := is.authorize(ctx, c, o); err != nil {
		return nil, is.classify(ctx, err, rt)
	}
	if o, err = c.WaitOrder(ctx, o.URI); err != nil {
		return nil, is.classify(ctx, err, rt)
	}
	key, err := newKey(is.cfg.KeyType)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, csrTemplate(is.cfg.Domains), key)
	if err != nil {
		return nil, err
	}
	// CreateCertFromOrder, not CreateOrderCert: a CA need not send the
	// order's URL again with the finalization (Pebble does not), and this
	// one polls the order by the URL it already has.
	ders, _, err := c.CreateCertFromOrder(ctx, o, csr, true)
	if err != nil {
		return nil, is.classify(ctx, err, rt)
	}
	b := &bundle{key: key}
	for _, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate from the CA: %w", err)
		}
		b.chain = append(b.chain, cert)
	}
	if len(b.chain) == 0 {
		return nil, errors.New("the CA sent no certificate")
	}
	if err := b.check(is.cfg.Domains, is.cfg.KeyType, nowFunc()); err != nil {
		return nil, fmt.Errorf("certificate from the CA: %w", err)
	}
	data, err := b.encode()
	if err != nil {
		return nil, err
	}
	if err := is.cache.put(is.certEntry(), data); err != nil {
		return nil, err
	}
	is.log.Info("certificate issued", "domain", strings.Join(is.cfg.Domains, ","), "serial", b.leaf().SerialNumber.Text(16),
		"not_after", b.leaf().NotAfter.UTC().Format(time.RFC3339), "profile", string(o.Profile))
	return b, nil
}

// csrTemplate asks for names; the first DNS name is also the subject's
// common name where it fits (a CA's profile may leave it out).
func csrTemplate(names []string) *x509.CertificateRequest {
	tmpl := &x509.CertificateRequest{}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		tmpl.DNSNames = append(tmpl.DNSNames, n)
		if tmpl.Subject.CommonName == "" && len(n) <= 64 {
			tmpl.Subject.CommonName = n
		}
	}
	return tmpl
}

// orderOptions asks for the configured profile, after checking that the
// CA offers it, so that a mistake is told with the CA's list of profiles.
func (is *ACMEIssuer) orderOptions(ctx context.Context, c *acme.Client) ([]acme.OrderOption, error) {
	if is.cfg.Profile == "" {
		return nil, nil
	}
	dir, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := dir.Profiles[acme.ProfileName(is.cfg.Profile)]; !ok {
		return nil, unknownProfile(is.cfg.Profile, is.cfg.DirectoryURL, dir.Profiles)
	}
	return []acme.OrderOption{acme.WithOrderIssuanceProfile(acme.ProfileName(is.cfg.Profile))}, nil
}

// unknownProfile is a configuration error that lists what the CA offers.
func unknownProfile(name, dirURL string, offered map[acme.ProfileName]string) error {
	if len(offered) == 0 {
		return configErrorf("profile", "%q: the CA at %s offers no profiles; leave {profile} out", name, dirURL)
	}
	var list []string
	for p, desc := range offered {
		list = append(list, fmt.Sprintf("%s (%s)", p, desc))
	}
	slices.Sort(list)
	return configErrorf("profile", "%q is not offered by the CA at %s; it offers: %s", name, dirURL, strings.Join(list, ", "))
}

// task is one authorization to complete and the challenge chosen for it.
type task struct {
	authzURL string
	z        *acme.Authorization
	ch       *acme.Challenge
	rec      *txtRecord // DNS-01 only
}

// authorize completes the order's pending authorizations: it chooses a
// challenge for each, makes the listeners or the DNS answer them, tells
// the CA to validate, and waits for the verdicts. Listeners close and
// DNS records are removed before it returns, in every case.
func (is *ACMEIssuer) authorize(ctx context.Context, c *acme.Client, o *acme.Order) error {
	var tasks []*task
	for _, u := range o.AuthzURLs {
		z, err := c.GetAuthorization(ctx, u)
		if err != nil {
			return err
		}
		switch z.Status {
		case acme.StatusValid:
			continue // validated earlier for this account
		case acme.StatusPending:
			tasks = append(tasks, &task{authzURL: u, z: z})
		default:
			return fmt.Errorf("%s: the CA's authorization is %s", z.Identifier.Value, z.Status)
		}
	}
	if len(tasks) == 0 {
		return nil
	}
	var srv *challengeServers
	if slices.ContainsFunc(tasks, func(t *task) bool { return !is.viaDNS(t.z) }) {
		var err error
		if srv, err = startChallengeServers(is.cfg, is.log); err != nil {
			return err
		}
		defer srv.close()
	}
	var recs []*txtRecord
	for _, t := range tasks {
		if err := is.choose(t, srv); err != nil {
			return err
		}
		if t.ch.Type != chDNS01 {
			if err := srv.answer(c, t.ch, t.z.Identifier.Value); err != nil {
				return err
			}
			continue
		}
		v, err := c.DNS01ChallengeRecord(t.ch.Token)
		if err != nil {
			return err
		}
		if t.rec, err = is.dns.newRecord(ctx, t.z.Identifier.Value, v); err != nil {
			return &Error{Kind: ErrChallenge, Object: t.z.Identifier.Value, Err: err}
		}
		recs = append(recs, t.rec)
	}
	if len(recs) > 0 {
		for i, r := range recs {
			r.remaining = len(recs) - 1 - i
			for _, q := range recs {
				r.all = append(r.all, q.domain)
			}
		}
		cleanup, err := is.dns.publish(ctx, recs)
		defer cleanup()
		if err != nil {
			return err
		}
	}
	for _, t := range tasks {
		if _, err := c.Accept(ctx, t.ch); err != nil {
			return err
		}
	}
	for _, t := range tasks {
		if _, err := c.WaitAuthorization(ctx, t.authzURL); err != nil {
			return is.challengeError(t, err)
		}
	}
	return nil
}

// viaDNS reports whether the authorization is answered through DNS-01.
func (is *ACMEIssuer) viaDNS(z *acme.Authorization) bool {
	return is.dns != nil && z.Identifier.Type == "dns"
}

// choose picks the challenge certinit answers: DNS-01 for names when it
// is configured; otherwise TLS-ALPN-01 or HTTP-01, whichever has a
// listener (TLS-ALPN-01 first).
func (is *ACMEIssuer) choose(t *task, srv *challengeServers) error {
	var want []string
	if is.viaDNS(t.z) {
		want = []string{chDNS01}
	} else {
		for _, typ := range []string{chTLSALPN01, chHTTP01} {
			if srv.offer[typ] {
				want = append(want, typ)
			}
		}
	}
	var offered []string
	for _, typ := range want {
		for _, ch := range t.z.Challenges {
			if ch.Type == typ {
				t.ch = ch
				return nil
			}
		}
	}
	for _, ch := range t.z.Challenges {
		offered = append(offered, ch.Type)
	}
	return &Error{Kind: ErrChallenge, Object: t.z.Identifier.Value,
		Err:  fmt.Errorf("the CA offers %s for it, and certinit is set up to answer %s", strings.Join(offered, ", "), strings.Join(want, " or ")),
		Hint: "a wildcard needs DNS-01 (a DNS hook or an RFC 2136 server); an IP address needs the HTTP-01 or TLS-ALPN-01 listener"}
}
