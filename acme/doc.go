// Package acme obtains and renews the TLS certificate of a broker and writes
// it as files the broker can read: cert.pem (leaf), chain.pem
// (intermediates), fullchain.pem (leaf and intermediates) and privkey.pem
// (PKCS#8), certbot's names, through internal/atomicfile. One certificate
// covers every configured name.
//
// Two issuers implement Issuer:
//
//   - ACMEIssuer talks to an ACME CA (Let's Encrypt by default, any RFC 8555
//     CA by directory URL, with external account binding and a private CA
//     for the API's own TLS) through golang.org/x/crypto/acme's order flow:
//     one order with every name and IP address (RFC 8738), an issuance
//     profile when configured. It proves control with HTTP-01 and
//     TLS-ALPN-01 on listeners it opens only while an order runs, or for
//     names with DNS-01, publishing the TXT record through the user's hook
//     program (certbot's and lego's contracts) or by RFC 2136 updates with
//     TSIG, waiting until the zone's name servers have it and removing it
//     afterwards. Wildcards need DNS-01.
//   - LocalCA is an offline CA (ECDSA P-256, created once in the cache
//     directory) that signs one certificate for all names, dotless names
//     and IP addresses included, with the CA as chain.pem.
//
// The cache directory (default Config.Out + ".cache", beside the output)
// keeps the ACME account key, the certificate and the CA's renewal
// information per directory URL, and the local CA, so a restart does not
// order again: Obtain changes no file, and contacts the CA at most to ask
// its renewal information again when the CA said to, while the certificate
// is valid and not due. It is due at a random time in the CA's renewal
// window (ARI, RFC 9773) when the CA offers one, when a third of its
// lifetime is left otherwise, or Config.RenewBefore before it expires when
// that is set (schedule.go).
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
//		ReapLock: &reapLock,                         // the supervisor's, for DNS hook programs
//	}, log)
//	if err != nil { ... }                      // errors.Is(err, acme.ErrConfig): a usage error
//	res, err := iss.Obtain(ctx)                // before starting the broker
//	if err != nil { ... }                      // errors.Is: ErrCAUnreachable, ErrCAFailure, ErrRateLimited, ErrChallenge, ErrAccount, ErrConfig
//	go iss.RenewLoop(ctx, func(r *acme.Result) { reload the broker })
//
// Result describes the certificate's files, serial, validity, renewal time
// and why, and the files that were rewritten (Result.Changed tells whether
// the broker must reload). RenewLoop sleeps until the certificate is due or
// the CA's renewal information is to be fetched again, renews, retries
// failures with backoff and jitter, and calls back only after complete new
// files are in place; until then the old ones stay. Issuers are safe for
// concurrent use, and the cache directory's lock serializes processes that
// share it.
//
// # Not for
//
// Revocation, several certificates for one output directory, the "replaces"
// field of a renewal order (x/crypto/acme cannot send it; see
// docs/acme.md), or serving TLS for the broker: the listeners answer ACME
// challenges and nothing else.
package acme
