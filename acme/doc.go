// Package acme obtains and renews the TLS certificate of a broker and writes
// it as files the broker can read: cert.pem (leaf), chain.pem
// (intermediates), fullchain.pem (leaf and intermediates) and privkey.pem
// (PKCS#8), certbot's names, through internal/atomicfile.
//
// Two issuers implement Issuer:
//
//   - ACMEIssuer talks to an ACME CA (Let's Encrypt by default, any RFC 8555
//     CA by directory URL, with external account binding and a private CA
//     for the API's own TLS) through golang.org/x/crypto/acme/autocert. It
//     answers HTTP-01 and TLS-ALPN-01 challenges on listeners it opens only
//     while an order is in progress, and offers only the challenge types
//     whose listener is configured. autocert orders one name per
//     certificate: the first domain's files go to Config.Out, each further
//     domain's to Config.Out/NAME/.
//   - LocalCA is an offline CA (ECDSA P-256, created once in the cache
//     directory) that signs one certificate for all names, dotless names
//     and IP addresses included, with the CA as chain.pem.
//
// The cache directory (default Config.Out + ".cache", beside the output)
// keeps the ACME account key and certificates per directory URL, and the
// local CA, so a restart does not order again: Obtain contacts nobody and
// changes no file while the certificates are valid and outside their
// renewal window (Config.RenewBefore, at most a third of the lifetime).
//
// # Use from another command
//
// The run command obtains and renews in-process:
//
//	iss, err := acme.New(acme.Config{
//		Domains:  []string{"mqtt.example.com"},
//		Out:      "/etc/mosquitto/certs",
//		HTTPAddr: acme.DefaultHTTPAddr,
//		TLSAddr:  acme.DefaultTLSAddr,
//		Owner:    &owner.Owner{UID: 1883, GID: 1883}, // internal/owner: key 0640, group-readable
//	}, log)
//	if err != nil { ... }                      // errors.Is(err, acme.ErrConfig): a usage error
//	res, err := iss.Obtain(ctx)                // before starting the broker
//	if err != nil { ... }                      // errors.Is: ErrCAUnreachable, ErrCAFailure, ErrRateLimited, ErrChallenge, ErrAccount
//	go iss.RenewLoop(ctx, func(r *acme.Result) { reload the broker })
//
// Result lists each certificate's files, serial, validity and renewal time,
// and the files that were rewritten (Result.Changed tells whether the broker
// must reload). RenewLoop checks when the earliest certificate enters its
// window, renews, retries failures with backoff and jitter, and calls back
// only after complete new files are in place; until then the old ones stay.
// Issuers are safe for concurrent use, and the cache directory's lock
// (internal/dirlock) serializes processes that share it.
//
// # Not for
//
// DNS-01 and wildcard certificates from an ACME CA, certificates for several
// names in one ACME order (autocert's limit), revocation, or serving TLS for
// the broker: the listeners answer ACME challenges and nothing else.
package acme
