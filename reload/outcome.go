package reload

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

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

// Kind says in one word why the change was refused, from the step that
// refused it and the kind of error that step returned: the "kind" of the
// refusal's log record, and the reason run's metrics count it under
// (docs/metrics.md). What is left once the kinds are told apart are files
// that do not parse: "malformed". It is "" for a change not refused.
func (o Outcome) Kind() string {
	err := o.Refused
	switch {
	case err == nil:
		return ""
	case o.Stage == StageCopy:
		return "copy_failed"
	case o.Stage == StageHook:
		return "trust_failed"
	case errors.Is(err, pemfile.ErrKeyMismatch):
		return "key_mismatch"
	case errors.Is(err, pemfile.ErrExpired):
		return "expired"
	case errors.Is(err, pemfile.ErrNotYetValid):
		return "not_yet_valid"
	case errors.Is(err, ErrWeak):
		return "weak"
	case errors.Is(err, ErrChain):
		return "untrusted_chain"
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EISDIR),
		errors.Is(err, userfile.ErrNotRegular), errors.Is(err, userfile.ErrTooLarge):
		return "unreadable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "other"
	}
	return "malformed"
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
