// Package probe diagnoses TLS trust: of a remote endpoint (Probe: connect,
// record the handshake, verify, and say in one verdict and a few lines what
// is wrong and how to fix it) and of local files (Check: a certificate and
// key, or every certificate, key and CA path a mosquitto.conf names).
//
// Verification is never disabled. Probe records a failing handshake through
// a diagnostic connection that accepts any certificate only so the facts can
// be read, verifies the chain itself with crypto/x509 against the chosen
// trust (--cafile, --capath with OpenSSL's hash-directory lookup, or the
// system store), and takes the verdict from that verification alone. The
// MQTT CONNECT (and any password in it) goes over a second connection whose
// handshake fails unless that same verification passes, and only when the
// first one verified.
//
// It is not a TLS scanner (it does not enumerate cipher suites or versions)
// and not a client library; it never prints (Report.WriteText and the CLI
// do) and it writes files only for SaveDir, through internal/atomicfile.
package probe
