package reload

// Action is what a good change needs from the server.
type Action int

// Actions, from the least to the most disruptive.
const (
	Nothing Action = iota // the server reads the changed files by itself
	Signal                // the reload signal: the server reads its certificates again
	Restart               // stop and start: the server reads the files only at start
)

// The rules a Decision names, in the `rule` attribute of the log record
// that carries it out (docs/run.md has the table).
const (
	RuleSignal    = "signal"     // without the server's configuration: every change is signalled
	RuleSighup    = "sighup"     // a file the server reads again on the reload signal
	RuleRestart   = "restart"    // a file the server reads only at start, or a CA withdrawn from a capath
	RuleNone      = "none"       // nothing: the server reads the file by itself when it needs it
	RuleRestartOn = "restart-on" // a --restart-on path changed (the user's override)
	RuleKeyType   = "key-type"   // the key type changed (keytype.go)
)

// Decision is what a change needs, the rule that decided it, the file it
// decided for (empty when none), and why.
type Decision struct {
	Action Action
	Rule   string
	Path   string
	Option string // the configuration option that names Path, when one does
	Reason string
}

// Stronger reports whether d should replace cur as the decision for a
// change: it is more disruptive, or as disruptive and cur is only the
// default rule (RuleSignal) or no rule at all.
func (d Decision) Stronger(cur Decision) bool {
	if d.Action != cur.Action {
		return d.Action > cur.Action
	}
	return cur.Rule == "" || cur.Rule == RuleSignal && d.Rule != RuleSignal
}

// Rules decides what a good change needs from the server's own
// configuration (certinit run: runner's Mosquitto rules). Decide gets
// every path changed since the last action, after the hooks have run, and
// floor, what the change needs whatever the configuration says: the
// reload signal for a changed pair, a restart for a --restart-on path or
// a new key type, else Nothing with no rule. It returns the decision to
// carry out, never weaker than floor. The Reloader carries it out, so
// Rules may record what the server has read from then on. It is called
// with the Reloader's lock held, one call at a time.
type Rules interface {
	Decide(changed []string, floor Decision) Decision
}
