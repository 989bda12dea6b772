package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
)

// Kinds of failure a user can act on. Errors returned by Obtain wrap one of
// them when the cause is known: test with errors.Is.
var (
	// ErrCAUnreachable: no HTTPS exchange with the ACME directory was
	// possible (DNS, connection refused, timeout, TLS not trusted).
	ErrCAUnreachable = errors.New("ACME CA unreachable")
	// ErrRateLimited: the CA refused because of a rate limit.
	ErrRateLimited = errors.New("rate limited by the ACME CA")
	// ErrChallenge: control of a name could not be shown: the CA could
	// not validate it through a challenge listener or the DNS, or certinit
	// could not publish the DNS record.
	ErrChallenge = errors.New("challenge failed")
	// ErrAccount: the CA refused to create or use the ACME account
	// (external account binding, contact address, terms of service).
	ErrAccount = errors.New("ACME account problem")
	// ErrCAFailure: the CA answered, but with a server error or by
	// rejecting the request's nonce again and again: a fault at the CA (or
	// a proxy in front of it), not in this configuration.
	ErrCAFailure = errors.New("the ACME CA failed the request")
)

// Error is a failure of one certificate request, with its kind, the object
// at fault (a domain name or the directory URL) and what to do about it.
type Error struct {
	Kind   error  // one of the Err* values above, or nil
	Object string // domain name or directory URL
	Hint   string // what the user can do, or ""
	Err    error  // the underlying cause
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Object)
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap lets errors.Is find both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// classify turns an error of an order into an *Error of the kind the user
// can act on. An error that already is one (a challenge certinit could not
// answer, a listener that could not open) or a configuration mistake
// passes unchanged.
func (is *ACMEIssuer) classify(ctx context.Context, err error, rt *roundTransport) error {
	names := strings.Join(is.cfg.Domains, ",")
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", names, ctx.Err())
	}
	var known *Error
	if errors.As(err, &known) || errors.Is(err, ErrConfig) {
		return err
	}
	dir := is.cfg.DirectoryURL
	var terr *url.Error // the ACME client's HTTP exchange failed below HTTP
	if errors.As(err, &terr) {
		hint := "check the directory URL, DNS, firewall and proxy settings"
		var uerr x509.UnknownAuthorityError
		var verr *tls.CertificateVerificationError
		switch {
		case errors.As(terr, &uerr) || errors.As(terr, &verr):
			hint = "the CA's HTTPS certificate is not trusted: give its CA certificate with --acme-ca"
		case rt.answered.Load():
			hint = "the CA answered earlier in this order, then stopped: it may be restarting or overloaded; the order is tried again later"
		}
		return &Error{Kind: ErrCAUnreachable, Object: dir, Hint: hint, Err: terr}
	}
	var ae *acme.Error
	if !errors.As(err, &ae) {
		var oe *acme.OrderError
		if errors.As(err, &oe) && oe.Problem != nil {
			ae = oe.Problem
		}
	}
	if ae != nil {
		if d, ok := acme.RateLimit(ae); ok {
			hint := "wait before trying again; use --staging while testing"
			if d > 0 {
				hint = fmt.Sprintf("retry after %s; use --staging while testing", d.Round(time.Second))
			}
			return &Error{Kind: ErrRateLimited, Object: names, Hint: hint, Err: ae}
		}
		if ae.StatusCode >= 500 || caProblems[problemName(ae.ProblemType)] {
			return &Error{Kind: ErrCAFailure, Object: dir, Err: ae,
				Hint: "a fault at the CA or a proxy in front of it, not in this configuration; the order is tried again later, and if this persists check the CA's status"}
		}
		if problemName(ae.ProblemType) == "invalidProfile" {
			return configErrorf("profile", "%q: the CA at %s refused it: %s", is.cfg.Profile, dir, ae.Detail)
		}
		if errors.As(err, new(errAccount)) || isAccountProblem(ae.ProblemType) {
			return &Error{Kind: ErrAccount, Object: dir, Hint: accountHint(ae.ProblemType), Err: ae}
		}
		if isChallengeProblem(ae.ProblemType) {
			return &Error{Kind: ErrChallenge, Object: names, Err: ae}
		}
	}
	if errors.As(err, new(errAccount)) {
		return &Error{Kind: ErrAccount, Object: dir, Hint: accountHint(""), Err: err}
	}
	return &Error{Object: names, Err: err}
}

// challengeError explains a failed authorization: which challenge the CA
// tried, where certinit answered it, and what the CA saw.
func (is *ACMEIssuer) challengeError(t *task, err error) error {
	var aerr *acme.AuthorizationError
	if !errors.As(err, &aerr) {
		return err
	}
	var seen []string
	for _, e := range aerr.Errors {
		var ae *acme.Error
		if errors.As(e, &ae) && ae.Detail != "" {
			seen = append(seen, ae.Detail)
		} else {
			seen = append(seen, e.Error())
		}
	}
	where, hint := is.listenerFor(t.ch.Type),
		"the CA must reach this host on the challenge port for the name; check DNS, port forwarding and firewalls"
	if t.rec != nil {
		where = fmt.Sprintf("the TXT record %s from %s", t.rec.fqdn, is.dns.pub)
		hint = "the CA must find the record through the zone's public name servers"
	}
	return &Error{Kind: ErrChallenge, Object: t.z.Identifier.Value, Hint: hint,
		Err: fmt.Errorf("the CA could not validate %s through %s: %s", t.ch.Type, where, strings.Join(seen, "; "))}
}

// listenerFor names the listener that serves a challenge type.
func (is *ACMEIssuer) listenerFor(typ string) string {
	switch typ {
	case chHTTP01:
		return "the HTTP-01 listener " + is.cfg.HTTPAddr
	case chTLSALPN01:
		return "the TLS-ALPN-01 listener " + is.cfg.TLSAddr
	}
	return typ
}

// ACME problem types (RFC 8555 section 6.7) by what the user must fix.
var (
	accountProblems = map[string]string{
		"accountDoesNotExist":     "the account is unknown to this CA; remove the account key from the cache to register anew",
		"externalAccountRequired": "this CA requires external account binding: give the key id and HMAC key",
		"invalidContact":          "the CA refused the contact address",
		"unsupportedContact":      "the CA refused the contact address",
		"userActionRequired":      "visit the CA's terms of service page",
		"agreementRequired":       "the terms of service changed",
		"badPublicKey":            "the CA refused the account key",
	}
	// caProblems are the CA's own faults: its server failed, or it keeps
	// rejecting fresh nonces (the client already retried each request).
	caProblems        = map[string]bool{"serverInternal": true, "badNonce": true}
	challengeProblems = map[string]bool{
		"connection": true, "dns": true, "incorrectResponse": true, "tls": true,
		"caa": true, "rejectedIdentifier": true, "unauthorized": true,
	}
)

func problemName(t string) string {
	return t[strings.LastIndex(t, ":")+1:]
}

func isAccountProblem(t string) bool { _, ok := accountProblems[problemName(t)]; return ok }

func isChallengeProblem(t string) bool { return challengeProblems[problemName(t)] }

func accountHint(t string) string {
	if h, ok := accountProblems[problemName(t)]; ok {
		return h
	}
	return "check the account email and external account binding"
}
