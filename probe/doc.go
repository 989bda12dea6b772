// Package probe diagnoses TLS trust: of a remote endpoint (Probe: connect,
// record the handshake, verify, and say in one verdict and a few lines what
// is wrong and how to fix it) and of local files (Check: a certificate and
// key, or every certificate, key and CA path a mosquitto.conf names).
//
// Trust is decided the way OpenSSL decides it for Mosquitto and its
// clients, by package verify alone: a chain is trusted only when it
// reaches a self-signed certificate in the trust set (--cafile and
// --capath together, or OpenSSL's default paths), with the purpose
// checked on every certificate (TLS server for what Probe connects to, TLS
// client for --cert and a bridge's certificate) at Mosquitto's security
// level. The report carries the OpenSSL error the verification stops at,
// which `openssl s_client -verify_return_error` reports for the same
// files. crypto/x509 is used only for the server's name, checked against
// subjectAltName as current clients do (OpenSSL still accepts the common
// name; the diagnosis says so).
//
// Verification is never disabled. Probe records a failing handshake
// through a diagnostic connection that accepts any certificate only so the
// facts can be read, and takes the verdict from its own verification
// alone. The MQTT CONNECT (and any password in it) goes over a second
// connection whose handshake fails unless that same verification passes,
// and only when the first one verified.
//
// Check holds the broker's own served pair to a stricter standard than
// Mosquitto does: Mosquitto serves an expired certificate or one not meant
// for TLS servers without a word; Check reports both, since clients refuse
// them.
//
// It is not a TLS scanner (it does not enumerate cipher suites or versions)
// and not a client library; it never prints (Report.WriteText and the CLI
// do) and it writes files only for SaveDir, as a dir: trust store
// (package truststore).
package probe
