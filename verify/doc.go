// Package verify decides whether a certificate chain is trusted the way
// OpenSSL 3 decides it for Mosquitto: X509_verify_cert with OpenSSL's
// default flags, which Mosquitto does not change. Two rules set it apart
// from crypto/x509's Verify, and they are why certinit has its own:
//
//   - A chain is trusted only when it ends at a self-signed certificate in
//     the trust set. An intermediate CA in the trust set is not an anchor:
//     Mosquitto does not set X509_V_FLAG_PARTIAL_CHAIN, so a capath or
//     cafile holding only certbot's chain.pem (the intermediate) fails with
//     "unable to get issuer certificate".
//   - The purpose is checked on every certificate of the chain, trust
//     anchor included: TLS server for a listener's certificate (as clients
//     and bridges check it), TLS client for a client's or a bridge's
//     certificate (as a listener with require_certificate checks it). An
//     extended key usage without serverAuth (or clientAuth) anywhere in
//     the chain fails, anyExtendedKeyUsage included.
//
// Chain builds the chain as OpenSSL's build_chain does (trusted issuers
// first, then the certificates the peer sent, then the trust set again;
// among several candidate issuers the first valid one in load order, else
// the one that expires last), then checks extensions and purpose, key and
// digest strength at a security level, signatures and validity periods, in
// OpenSSL's order, and stops at the first error as Mosquitto's verify
// callback does. A failure is an *Error with OpenSSL's X509_V_ERR code,
// depth and text, the first line `openssl verify` prints for the same
// files; for a missing issuer it names the issuer and the issuer URL the
// certificate carries. LoadTrust reads a cafile and a capath as
// SSL_CTX_load_verify_locations does (the cafile with OpenSSL's reader,
// hashlink.ParseInfos; the capath as far as OpenSSL's lookup reads it,
// hashlink.LookupDir); DefaultTrust is what a client given neither uses
// (OpenSSL's default paths, SSL_CERT_FILE and SSL_CERT_DIR); NewTrust
// takes certificates already in hand.
//
// The tests compare every verdict with `openssl verify -purpose` on the
// same files.
//
// Not for: host names (probe checks them), revocation (CRLs, OCSP),
// certificate policies, name constraints, proxy certificates, DANE, and the
// trust settings a TRUSTED CERTIFICATE block carries (read as a plain
// certificate). OpenSSL's X509_V_FLAG_X509_STRICT is off, as in Mosquitto.
package verify
