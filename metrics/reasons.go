package metrics

import "slices"

// The label values of the counters come from the fixed sets below, so that
// the number of series stays bounded whatever happens: a value outside a
// set is counted as "other". The caller (the runner) maps its errors to
// them; this package never looks at error text.

// Reason says why a change was refused (certinit_reloads_total{result="refused"}).
type Reason string

// Why a change was refused.
const (
	ReasonUnreadable  Reason = "unreadable"      // a file is missing, unreadable, not a regular file or too large
	ReasonMalformed   Reason = "malformed"       // a file does not parse as PEM or DER, or holds no certificate or key
	ReasonKeyMismatch Reason = "key_mismatch"    // the key does not belong to the certificate
	ReasonExpired     Reason = "expired"         // the certificate's validity has ended
	ReasonNotYetValid Reason = "not_yet_valid"   // the certificate's validity has not begun
	ReasonWeak        Reason = "weak"            // a key or signature digest is below the security level OpenSSL loads certificates at
	ReasonUntrusted   Reason = "untrusted_chain" // the chain does not verify to the configured CAs
	ReasonIncomplete  Reason = "incomplete"      // not counted: a check judges the bytes it read; kept for existing queries
	ReasonCopy        Reason = "copy_failed"     // the --copy-to copy could not be written
	ReasonTrust       Reason = "trust_failed"    // installing --trust files or rehashing failed
	ReasonOther       Reason = "other"
)

var reasons = []Reason{ReasonUnreadable, ReasonMalformed, ReasonKeyMismatch, ReasonExpired, ReasonNotYetValid,
	ReasonWeak, ReasonUntrusted, ReasonIncomplete, ReasonCopy, ReasonTrust, ReasonOther}

func (r Reason) known() Reason { return orOther(reasons, r, ReasonOther) }

// Action is how a good change reached the broker (the reason of
// certinit_reloads_total{result="ok"} and {result="failed"}).
type Action string

// How a change reached the broker.
const (
	ActionSignal  Action = "signal"  // the reload signal
	ActionRestart Action = "restart" // a graceful restart
	ActionNone    Action = "none"    // nothing was needed (the broker reads the file when it uses it)
)

var actions = []Action{ActionSignal, ActionRestart, ActionNone}

// known maps an unknown action to a signal, the default way.
func (a Action) known() Action { return orOther(actions, a, ActionSignal) }

// RestartReason says why certinit restarted the broker.
type RestartReason string

// Why certinit restarted the broker.
const (
	RestartReload   RestartReason = "reload"   // a change the broker reads only at start, or a new key type
	RestartLiveness RestartReason = "liveness" // it stopped answering on its listener
)

var restartReasons = []RestartReason{RestartReload, RestartLiveness}

func (r RestartReason) known() RestartReason { return orOther(restartReasons, r, RestartReload) }

// RenewalReason says why an in-process renewal failed (the kinds of
// acme's errors).
type RenewalReason string

// Why a renewal failed.
const (
	RenewalCAUnreachable RenewalReason = "ca_unreachable" // no HTTPS exchange with the CA was possible
	RenewalRateLimited   RenewalReason = "rate_limited"   // the CA refused because of a rate limit
	RenewalChallenge     RenewalReason = "challenge"      // the CA could not validate control of a name
	RenewalAccount       RenewalReason = "account"        // the CA refused the account
	RenewalCAFailure     RenewalReason = "ca_failure"     // the CA answered with a fault of its own
	RenewalOther         RenewalReason = "other"
)

var renewalReasons = []RenewalReason{RenewalCAUnreachable, RenewalRateLimited, RenewalChallenge,
	RenewalAccount, RenewalCAFailure, RenewalOther}

func (r RenewalReason) known() RenewalReason { return orOther(renewalReasons, r, RenewalOther) }

// orOther is v when set holds it, else other.
func orOther[T comparable](set []T, v, other T) T {
	if slices.Contains(set, v) {
		return v
	}
	return other
}
