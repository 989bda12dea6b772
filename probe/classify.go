package probe

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// checker decides what is wrong with a server's certificates.
type checker struct {
	trust      *trust
	serverName string
	now        time.Time
	// system returns the system store, for "the issuer is in the system
	// store but you passed --cafile"; nil or failing skips that hint.
	system func() (*x509.CertPool, error)
	// fetch downloads AIA issuers; nil disables fetching.
	fetch func(ctx context.Context, urls []string) ([]*x509.Certificate, error)
}

// chainResult is the certificate part of a verdict.
type chainResult struct {
	verdict   Verdict
	diagnosis []string
	// chain is the verified chain, leaf to anchor, when the chain verified
	// (verdicts ok and hostname-mismatch).
	chain []*x509.Certificate
	// issuers is what --save writes: the intermediates and the anchor.
	issuers []*x509.Certificate
	// unverified marks issuers that no verification vouches for (taken as
	// the server sent them, or fetched from an AIA URL).
	unverified bool
}

// verifyAt verifies peer's chain at time t, with extra certificates as
// additional intermediates. It does not check the name.
func (c *checker) verifyAt(peer []*x509.Certificate, t time.Time, extra []*x509.Certificate) ([][]*x509.Certificate, error) {
	if len(peer) == 0 {
		return nil, errors.New("the server sent no certificate")
	}
	all := append(peer[:len(peer):len(peer)], extra...)
	roots, storeInter := c.trust.pools(all)
	inter := x509.NewCertPool()
	for _, x := range append(all[1:], storeInter...) {
		inter.AddCert(x)
	}
	return peer[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   t,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// verifyFull is the verification a TLS client makes: chain and name.
func (c *checker) verifyFull(peer []*x509.Certificate) error {
	if _, err := c.verifyAt(peer, c.now, nil); err != nil {
		return err
	}
	return peer[0].VerifyHostname(c.serverName)
}

// classify finds the first problem a client meets with peer, in the order
// clients check: the chain to a trusted root (and each certificate's
// validity period on it), then the name.
func (c *checker) classify(ctx context.Context, peer []*x509.Certificate) chainResult {
	chains, err := c.verifyAt(peer, c.now, nil)
	if err == nil {
		chain := chains[0]
		if herr := peer[0].VerifyHostname(c.serverName); herr != nil {
			return chainResult{verdict: VerdictHostnameMismatch, diagnosis: explainHostname(peer[0], c.serverName),
				chain: chain, issuers: chain[1:]}
		}
		return chainResult{verdict: VerdictOK, chain: chain, issuers: chain[1:]}
	}
	var notes []string
	if bad := firstOutOfTime(peer, c.now); bad != nil {
		timeRes := chainResult{verdict: timeVerdict(bad, c.now), diagnosis: explainTime(bad, bad == peer[0], c.now, ""),
			issuers: sentPath(peer)[1:], unverified: true}
		t, ok := commonValidTime(peer, c.now)
		if !ok {
			// The sent certificates were never valid at the same time.
			return timeRes
		}
		chains, err2 := c.verifyAt(peer, t, nil)
		var ua x509.UnknownAuthorityError
		switch {
		case err2 == nil:
			// Valid apart from the dates: the dates are the problem.
			timeRes.chain, timeRes.issuers, timeRes.unverified = chains[0], chains[0][1:], false
			return timeRes
		case !errors.As(err2, &ua):
			return timeRes
		}
		err = err2
		notes = timeRes.diagnosis
	}
	res := c.authority(ctx, peer, err)
	res.diagnosis = append(res.diagnosis, notes...)
	if peer[0].VerifyHostname(c.serverName) != nil {
		res.diagnosis = append(res.diagnosis, "Next, a client would reject the name: "+explainHostname(peer[0], c.serverName)[0])
	}
	return res
}

// authority classifies a chain that does not lead to a trusted root.
func (c *checker) authority(ctx context.Context, peer []*x509.Certificate, err error) chainResult {
	leaf := peer[0]
	_, storeInter := c.trust.pools(peer)
	path := issuerPath(leaf, append(peer[1:len(peer):len(peer)], storeInter...))
	top := path[len(path)-1]

	// A trusted certificate with the right name and key that is outside
	// its validity period: the store is the problem, not the server.
	if cand, where := c.storeIssuer(peer, top); cand != nil && firstOutOfTime([]*x509.Certificate{cand}, c.now) != nil {
		return chainResult{verdict: timeVerdict(cand, c.now), diagnosis: explainTime(cand, false, c.now, where),
			issuers: append(path[1:len(path):len(path)], cand), unverified: true}
	}
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		return chainResult{verdict: VerdictHandshakeFailure, diagnosis: []string{
			"A TLS client rejects the server's certificate (it would send alert bad_certificate): " + err.Error() + ".",
		}}
	}
	res := chainResult{verdict: VerdictUnknownAuthority, issuers: path[1:], unverified: true}
	switch {
	case selfSigned(leaf):
		res.verdict = VerdictSelfSigned
		res.issuers = []*x509.Certificate{leaf}
		res.diagnosis = explainSelfSigned(leaf, c.trust)
	case selfSigned(top):
		res.diagnosis = explainUntrustedRoot(top, c.trust)
		res.diagnosis = append(res.diagnosis, c.systemHint(peer, nil)...)
	default:
		res = c.missingIssuer(ctx, peer, top, res)
	}
	res.diagnosis = append(res.diagnosis, c.nameClash(top)...)
	if c.trust.systemErr != nil {
		res.diagnosis = append(res.diagnosis, fmt.Sprintf("This machine has no system CA certificates (%v): a slim or scratch image needs them installed (certinit trust install, or the ca-certificates package), or give the client --cafile.", c.trust.systemErr))
	}
	return res
}

// missingIssuer handles a chain whose top certificate's issuer is nowhere:
// an incomplete chain (the issuer is an intermediate the server should
// send) or an unknown authority.
func (c *checker) missingIssuer(ctx context.Context, peer []*x509.Certificate, top *x509.Certificate, res chainResult) chainResult {
	urls := top.IssuingCertificateURL
	if len(urls) == 0 {
		res.diagnosis = explainUnknownIssuer(peer, top, c.trust)
		res.diagnosis = append(res.diagnosis, c.capathHints(top.RawIssuer)...)
		res.diagnosis = append(res.diagnosis, c.systemHint(peer, nil)...)
		return res
	}
	res.verdict = VerdictIncompleteChain
	var fetched []*x509.Certificate
	var fetchErr error
	if c.fetch != nil {
		fetched, fetchErr = c.fetch(ctx, urls)
	}
	var completed []*x509.Certificate
	var verr error
	if len(fetched) > 0 {
		chains, err := c.verifyAt(peer, c.now, fetched)
		if err == nil {
			completed = chains[0]
			res.issuers = completed[1:]
		} else {
			verr = err
			res.issuers = append(res.issuers, fetched...)
		}
	}
	res.diagnosis = explainIncomplete(peer, top, urls, fetched, fetchErr, completed, verr, c.fetch != nil, c.trust)
	if completed == nil {
		res.diagnosis = append(res.diagnosis, c.systemHint(peer, fetched)...)
	}
	return res
}

// issuerPath follows issuers from leaf through pool: leaf, its issuer, that
// one's issuer... It stops at a self-signed certificate or where the next
// issuer is not in pool.
func issuerPath(leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	path := []*x509.Certificate{leaf}
	for len(path) <= len(pool) {
		cur := path[len(path)-1]
		if selfSigned(cur) {
			break
		}
		var next *x509.Certificate
		for _, p := range pool {
			if p != cur && bytes.Equal(p.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(p) == nil {
				next = p
				break
			}
		}
		if next == nil {
			break
		}
		path = append(path, next)
	}
	return path
}

// sentPath is the issuer path through what the server sent.
func sentPath(peer []*x509.Certificate) []*x509.Certificate {
	return issuerPath(peer[0], peer[1:])
}

// storeIssuer finds, in the cafile or through the capath lookup, the
// certificate that signed top; where says which.
func (c *checker) storeIssuer(peer []*x509.Certificate, top *x509.Certificate) (*x509.Certificate, string) {
	for _, x := range c.trust.cafileCerts {
		if bytes.Equal(x.RawSubject, top.RawIssuer) && top.CheckSignatureFrom(x) == nil {
			return x, "--cafile " + c.trust.cafile
		}
	}
	for _, x := range c.trust.capathCerts(append(peer, top)) {
		if bytes.Equal(x.RawSubject, top.RawIssuer) && top.CheckSignatureFrom(x) == nil {
			return x, "--capath " + c.trust.capath
		}
	}
	return nil, ""
}

// systemHint says when the system store would have verified the chain that
// --cafile/--capath did not.
func (c *checker) systemHint(peer, extra []*x509.Certificate) []string {
	if c.trust.system != nil || c.system == nil {
		return nil
	}
	sys, err := c.system()
	if err != nil || sys == nil {
		return nil
	}
	inter := x509.NewCertPool()
	for _, x := range append(peer[1:len(peer):len(peer)], extra...) {
		inter.AddCert(x)
	}
	chains, err := peer[0].Verify(x509.VerifyOptions{Roots: sys, Intermediates: inter, CurrentTime: c.now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return nil
	}
	anchor := chains[0][len(chains[0])-1]
	return []string{fmt.Sprintf("The system trust store does have the root %q: ", shortName(anchor)) + c.trust.describe() +
		" replaces the system store for this client. Add that root to your CA file, or leave out --cafile/--capath (mosquitto_pub: omit --cafile, or use --capath /etc/ssl/certs)."}
}

// firstOutOfTime returns the first certificate not valid at now.
func firstOutOfTime(certs []*x509.Certificate, now time.Time) *x509.Certificate {
	for _, c := range certs {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return c
		}
	}
	return nil
}

// commonValidTime returns the time closest to now at which every
// certificate in certs is valid, if there is one.
func commonValidTime(certs []*x509.Certificate, now time.Time) (time.Time, bool) {
	lo, hi := certs[0].NotBefore, certs[0].NotAfter
	for _, c := range certs[1:] {
		if c.NotBefore.After(lo) {
			lo = c.NotBefore
		}
		if c.NotAfter.Before(hi) {
			hi = c.NotAfter
		}
	}
	switch {
	case lo.After(hi):
		return time.Time{}, false
	case now.Before(lo):
		return lo, true
	case now.After(hi):
		return hi, true
	}
	return now, true
}

func timeVerdict(c *x509.Certificate, now time.Time) Verdict {
	if now.Before(c.NotBefore) {
		return VerdictNotYetValid
	}
	return VerdictExpired
}
