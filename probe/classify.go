package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certinit/certinit/verify"
)

// checker decides what is wrong with a server's certificates.
type checker struct {
	trust      *trust
	serverName string
	now        time.Time
	// system returns the system store, for "the issuer is in the system
	// store but you passed --cafile"; nil or failing skips that hint.
	system func() (*verify.Trust, error)
	// mozilla is the Mozilla root set certinit carries, for hints and for
	// --save; nil or failing leaves it out.
	mozilla rootSet
	// fetch downloads AIA issuers; nil disables fetching.
	fetch func(ctx context.Context, urls []string) ([]*x509.Certificate, error)
}

// chainResult is the certificate part of a verdict.
type chainResult struct {
	verdict   Verdict
	diagnosis []string
	// chain is the chain OpenSSL builds, leaf to a trusted self-signed
	// root, when it builds one (verdicts ok and hostname-mismatch, and
	// the failures found on a complete chain: dates, purposes).
	chain []*x509.Certificate
	// verr is OpenSSL's verification error, nil when the chain verified.
	verr *verify.Error
	// fetched are issuers downloaded from AIA URLs.
	fetched []*x509.Certificate
}

// verifyOptions is how a Mosquitto client (mosquitto_pub, a bridge)
// verifies a server: purpose TLS server, at OpenSSL's security level.
func (c *checker) verifyOptions() verify.Options {
	return verify.Options{Purpose: verify.ServerAuth, SecurityLevel: verify.MosquittoSecurityLevel, Time: c.now}
}

// verifyFull is the verification a TLS client makes: chain and name.
func (c *checker) verifyFull(peer []*x509.Certificate) error {
	if _, err := verify.Chain(peer, c.trust.v, c.verifyOptions()); err != nil {
		return err
	}
	return peer[0].VerifyHostname(c.serverName)
}

// classify finds the first problem a client meets with peer, in the order
// OpenSSL checks: the chain to a trusted self-signed root, then purposes,
// key strength, signatures and dates on it (package verify), then the
// name, which the probe checks against subjectAltName only.
func (c *checker) classify(ctx context.Context, peer []*x509.Certificate) chainResult {
	chain, err := verify.Chain(peer, c.trust.v, c.verifyOptions())
	if err == nil {
		if herr := peer[0].VerifyHostname(c.serverName); herr != nil {
			return chainResult{verdict: VerdictHostnameMismatch, diagnosis: explainHostname(peer[0], c.serverName), chain: chain}
		}
		return chainResult{verdict: VerdictOK, chain: chain}
	}
	var ve *verify.Error
	if !errors.As(err, &ve) {
		return chainResult{verdict: VerdictHandshakeFailure, diagnosis: []string{
			"OpenSSL clients cannot even load the server's certificates: " + err.Error() + ".",
		}}
	}
	res := chainResult{verr: ve}
	if !buildFailed(ve.Code) {
		res.chain = ve.Chain // ends at a trusted self-signed root
	}
	top := ve.Cert
	switch ve.Code {
	case verify.CertHasExpired, verify.CertNotYetValid:
		where := ""
		if !containsCert(peer, top) {
			where = c.trust.where(top)
		}
		res.verdict, res.diagnosis = timeVerdict(top, c.now), explainTime(top, ve.Depth == 0, c.now, where)
	case verify.DepthZeroSelfSignedCert:
		res.verdict, res.diagnosis = VerdictSelfSigned, explainSelfSigned(top, c.trust)
	case verify.SelfSignedCertInChain:
		res.verdict = VerdictUnknownAuthority
		res.diagnosis = append(explainUntrustedRoot(top, c.trust), c.systemHint(peer, nil)...)
	case verify.UnableToGetIssuerCertLocally:
		res = c.missingIssuer(ctx, peer, top, res)
	case verify.UnableToGetIssuerCert:
		res.verdict = VerdictUnknownAuthority
		res.diagnosis = append(c.explainAnchorNotRoot(top), c.systemHint(peer, nil)...)
	case verify.InvalidPurpose:
		res.verdict, res.diagnosis = VerdictHandshakeFailure, explainServerPurpose(top, ve.Depth)
	default:
		res.verdict = VerdictHandshakeFailure
		res.diagnosis = []string{"OpenSSL clients (mosquitto_pub, a bridge) refuse the server's chain: " + ve.Error() + "."}
	}
	if res.verdict == VerdictUnknownAuthority || res.verdict == VerdictIncompleteChain || res.verdict == VerdictSelfSigned {
		res.diagnosis = append(res.diagnosis, c.trustHints(peer, top)...)
	}
	if bad := firstOutOfTime(peer, c.now); bad != nil && bad != top {
		res.diagnosis = append(res.diagnosis, explainTime(bad, bad == peer[0], c.now, "")...)
	}
	if peer[0].VerifyHostname(c.serverName) != nil {
		res.diagnosis = append(res.diagnosis, "Next, a client would reject the name: "+explainHostname(peer[0], c.serverName)[0])
	}
	return res
}

// buildFailed reports whether code says OpenSSL found no chain to a
// trusted self-signed root; after the other codes the chain is complete.
func buildFailed(code verify.Code) bool {
	switch code {
	case verify.UnableToGetIssuerCert, verify.UnableToGetIssuerCertLocally, verify.DepthZeroSelfSignedCert,
		verify.SelfSignedCertInChain, verify.CertChainTooLong:
		return true
	}
	return false
}

// trustHints are the findings about the trust itself that explain an
// unknown authority: a re-created CA, the server's own certificate used
// as a trust anchor, a system store that is empty.
func (c *checker) trustHints(peer []*x509.Certificate, top *x509.Certificate) []string {
	out := c.nameClash(top)
	if !verify.SelfSigned(peer[0]) && containsCert(c.trust.v.Certificates(), peer[0]) {
		out = append(out, fmt.Sprintf("%s holds the server's own certificate %q. OpenSSL (as Mosquitto and mosquitto_pub run it) does not trust a certificate for being in the trust: the chain must end at a self-signed root there. Give the client the root CA instead (a server certificate would break at its next renewal anyway).",
			c.trust.where(peer[0]), shortName(peer[0])))
	}
	if c.trust.systemErr != nil {
		out = append(out, fmt.Sprintf("This machine has no system CA certificates (%v): a slim or scratch image needs them installed (certinit trust install, or the ca-certificates package), or give the client --cafile.", c.trust.systemErr))
	}
	return out
}

// missingIssuer handles a chain whose top certificate, one the server
// sent, has an issuer that is nowhere: an incomplete chain (the issuer is
// an intermediate the server should send, as its AIA URL says) or an
// unknown authority (the issuer is a root the client lacks: servers need
// not send roots).
func (c *checker) missingIssuer(ctx context.Context, peer []*x509.Certificate, top *x509.Certificate, res chainResult) chainResult {
	res.verdict = VerdictUnknownAuthority
	urls := top.IssuingCertificateURL
	var fetchErr error
	if len(urls) > 0 && c.fetch != nil {
		res.fetched, fetchErr = c.fetch(ctx, urls)
	}
	// Only a CA certificate at the top may be missing just its root; a
	// leaf alone always lacks its intermediate.
	missingRoot := verify.IsCA(top) && (len(res.fetched) == 0 || verify.SelfSigned(res.fetched[0]))
	if len(urls) == 0 || missingRoot {
		res.diagnosis = explainUnknownIssuer(peer, top, c.trust)
		if len(res.fetched) > 0 {
			root := res.fetched[0]
			res.diagnosis = append(res.diagnosis, fmt.Sprintf("The certificate names its issuer at %s: the root %q (SHA-256 %s). If you trust it, add it to the client's trust, or save the chain with --save DIR and use --capath DIR.",
				strings.Join(urls, ", "), shortName(root), fingerprint(root)))
		} else if len(urls) > 0 {
			res.diagnosis = append(res.diagnosis, "The certificate names its issuer at "+strings.Join(urls, ", ")+".")
		}
		res.diagnosis = append(res.diagnosis, c.capathHints(top.RawIssuer)...)
		res.diagnosis = append(res.diagnosis, c.systemHint(peer, nil)...)
		return res
	}
	res.verdict = VerdictIncompleteChain
	var completed []*x509.Certificate
	var verr error
	if len(res.fetched) > 0 {
		completed, verr = verify.Chain(slices.Concat(peer, res.fetched), c.trust.v, c.verifyOptions())
		if verr != nil {
			completed = nil
		}
	}
	res.diagnosis = explainIncomplete(peer, top, urls, res.fetched, fetchErr, completed, verr, c.fetch != nil, c.trust)
	if completed == nil {
		res.diagnosis = append(res.diagnosis, c.capathHints(top.RawIssuer)...)
		res.diagnosis = append(res.diagnosis, c.systemHint(peer, res.fetched)...)
	}
	return res
}

// systemHint says when the system store would have verified the chain that
// --cafile/--capath did not.
func (c *checker) systemHint(peer, extra []*x509.Certificate) []string {
	if c.trust.system || c.system == nil {
		return nil
	}
	sys, err := c.system()
	if err != nil || sys == nil {
		return nil
	}
	chain, err := verify.Chain(slices.Concat(peer, extra), sys, c.verifyOptions())
	if err != nil {
		return nil
	}
	anchor := chain[len(chain)-1]
	return []string{fmt.Sprintf("The system trust store does have the root %q: ", shortName(anchor)) + c.trust.describe() +
		" replaces the system store for this client. Add that root to your CA file, or leave out --cafile/--capath (mosquitto_pub: omit --cafile, or use --capath /etc/ssl/certs)."}
}

// rootSet loads a set of roots when first asked (the Mozilla set certinit
// carries, which takes a moment to parse).
type rootSet func() ([]*x509.Certificate, error)

// newRootSet returns the Mozilla set, loaded at most once.
func newRootSet(log *slog.Logger) rootSet {
	return sync.OnceValues(func() ([]*x509.Certificate, error) { return mozillaSet(log) })
}

// rootFor returns the root of the set that cert chains to, if any.
func (s rootSet) rootFor(cert *x509.Certificate) *x509.Certificate {
	if s == nil {
		return nil
	}
	roots, err := s()
	if err != nil {
		return nil
	}
	t, err := verify.NewTrust(roots...)
	if err != nil {
		return nil
	}
	chain, err := verify.Chain([]*x509.Certificate{cert}, t, verify.Options{NoCheckTime: true})
	if err != nil {
		return nil
	}
	return chain[len(chain)-1]
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

func timeVerdict(c *x509.Certificate, now time.Time) Verdict {
	if now.Before(c.NotBefore) {
		return VerdictNotYetValid
	}
	return VerdictExpired
}
