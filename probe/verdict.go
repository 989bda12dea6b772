package probe

// Verdict is the one-word outcome of a probe, printed as "verdict: CODE".
type Verdict string

// Verdicts, in the order the probe decides them: a connection problem hides
// everything after it, a certificate problem hides a client-certificate or
// MQTT problem (a real client stops at the first).
const (
	VerdictOK                 Verdict = "ok"
	VerdictConnectFailure     Verdict = "connect-failure"
	VerdictHandshakeFailure   Verdict = "handshake-failure"
	VerdictUnknownAuthority   Verdict = "unknown-authority"
	VerdictSelfSigned         Verdict = "self-signed"
	VerdictIncompleteChain    Verdict = "incomplete-chain"
	VerdictExpired            Verdict = "expired"
	VerdictNotYetValid        Verdict = "not-yet-valid"
	VerdictHostnameMismatch   Verdict = "hostname-mismatch"
	VerdictClientCertRequired Verdict = "client-cert-required"
	VerdictMQTTRefused        Verdict = "mqtt-refused"
)

// Verdicts lists every verdict code.
var Verdicts = []Verdict{
	VerdictOK, VerdictUnknownAuthority, VerdictSelfSigned, VerdictIncompleteChain,
	VerdictExpired, VerdictNotYetValid, VerdictHostnameMismatch,
	VerdictClientCertRequired, VerdictHandshakeFailure, VerdictConnectFailure,
	VerdictMQTTRefused,
}
