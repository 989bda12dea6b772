package probe

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// alertInfo describes a TLS alert: its RFC 8446 name, the text crypto/tls
// uses for it ("remote error: tls: TEXT"), and what it usually means when an
// MQTT broker sends it to a client.
type alertInfo struct {
	name   string
	goText string
	cause  string
}

// alerts is the TLS alert registry (RFC 8446 section 6, RFC 5246 for the
// older ones) with the causes seen in the field for each.
var alerts = map[uint8]alertInfo{
	0:   {"close_notify", "close notify", "the server closed the connection in an orderly way during the handshake"},
	10:  {"unexpected_message", "unexpected message", "the two sides disagree about the handshake; a proxy or load balancer in between may be interfering"},
	20:  {"bad_record_mac", "bad record MAC", "a record was corrupted on the way, or a middlebox rewrote it"},
	22:  {"record_overflow", "record overflow", "a record was longer than allowed"},
	40:  {"handshake_failure", "handshake failure", "no common cipher suite, group or signature algorithm (check the listener's ciphers/ciphers_tls1.3 and the key type), or, with TLS 1.2, a listener with require_certificate true that got no client certificate"},
	42:  {"bad_certificate", "bad certificate", "the server could not use the client certificate it got (corrupt, or signed with an algorithm it refuses)"},
	43:  {"unsupported_certificate", "unsupported certificate", "the server refused the client certificate's type or purpose (OpenSSL sends it for a certificate whose extended key usage lacks clientAuth)"},
	44:  {"certificate_revoked", "revoked certificate", "the client certificate is on the listener's crlfile"},
	45:  {"certificate_expired", "expired certificate", "the client certificate (or a certificate in its chain) has expired, or the server's clock is wrong"},
	46:  {"certificate_unknown", "unknown certificate", "the server rejected the client certificate for a reason it did not name (often a missing clientAuth extended key usage)"},
	47:  {"illegal_parameter", "illegal parameter", "a handshake field was out of range; usually a bug or an interfering middlebox"},
	48:  {"unknown_ca", "unknown certificate authority", "the server does not trust the CA that issued the client certificate: it is not in the listener's cafile/capath (or capath lacks its hash link)"},
	49:  {"access_denied", "access denied", "the server refused this client by policy"},
	50:  {"decode_error", "error decoding message", "the server could not parse a handshake message"},
	51:  {"decrypt_error", "error decrypting message", "a signature or Finished check failed: the client key does not match the client certificate, or a middlebox interfered"},
	70:  {"protocol_version", "protocol version not supported", "no TLS version in common: the listener's tls_version allows none that the client offers"},
	71:  {"insufficient_security", "insufficient security level", "the server wants stronger cipher suites than the client offers"},
	80:  {"internal_error", "internal error", "the server failed internally, typically while loading or using its certificate or key (file unreadable after dropping privileges, or key and certificate not matching)"},
	86:  {"inappropriate_fallback", "inappropriate fallback", "a version fallback was refused"},
	90:  {"user_canceled", "user canceled", "the server canceled the handshake"},
	109: {"missing_extension", "missing extension", "the server requires a TLS extension the client did not send"},
	110: {"unsupported_extension", "unsupported extension", "the server got an extension it did not ask for"},
	112: {"unrecognized_name", "unrecognized name", "the server has no certificate for the server name (SNI) sent: check --servername"},
	116: {"certificate_required", "certificate required", "the listener requires a client certificate (require_certificate true) and got none"},
	120: {"no_application_protocol", "no application protocol", "no ALPN protocol in common"},
}

// alertFromError extracts a TLS alert the server sent from a crypto/tls
// error, which reports it as a net.OpError with Op "remote error".
func alertFromError(err error) (uint8, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	text := strings.TrimPrefix(op.Err.Error(), "tls: ")
	for code, a := range alerts {
		if a.goText == text {
			return code, true
		}
	}
	return 0, false
}

// alertName returns the RFC name of an alert code.
func alertName(code uint8) string {
	if a, ok := alerts[code]; ok {
		return a.name
	}
	return "alert_" + strconv.Itoa(int(code))
}
