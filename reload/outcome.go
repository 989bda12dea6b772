package reload

// Outcome is what became of one change that was decided, for
// Config.Report (run's metrics): it reached the server, it was refused, or
// it passed its checks but the signal or restart could not be delivered.
// A change that waits (a pair settling, files superseded while being
// copied) has no outcome yet.
type Outcome struct {
	// Refused is why the change was refused, the reason logged; nil when
	// it passed its checks. Stage is the step that refused it.
	Refused error
	Stage   Stage
	// Action is what the change needed from the server: Nothing, the
	// signal or a restart (delivered, or to be when Failed is set).
	Action Action
	// Failed is why the signal or restart could not be delivered; nil when
	// it was.
	Failed error
}

// Stage is the step of a change that refused it.
type Stage int

const (
	StageCheck Stage = iota // the checks of the pair and of the other changed files
	StageCopy               // the --copy-to copy
	StageHook               // a Hook (trust store, hash links)
)

// report hands o to Config.Report, if any. The caller holds mu, so
// outcomes arrive in the order of the changes.
func (r *Reloader) report(o Outcome) {
	if r.cfg.Report != nil {
		r.cfg.Report(o)
	}
}
