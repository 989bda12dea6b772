package testutil

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Logs is a slog.Handler that keeps every record (at debug level and
// above), so that tests assert on what was logged by level, message key
// and structured attributes rather than on the wording of a text line.
// It also writes each record to the test's log (t.Log), for reading a
// failed test, until the test's cleanup: what is logged later (a goroutine
// the code under test left behind) is still recorded.
type Logs struct {
	t     testing.TB
	attrs []slog.Attr
	group string
	s     *logStore
}

type logStore struct {
	mu      sync.Mutex
	records []Record
	changed chan struct{} // closed and replaced at every new record
	ended   bool          // the test is over: t.Log may no longer be called
	partial []byte        // Write: the start of a line not yet ended
	lines   []string      // Write: lines that were not JSON records
}

// add shows text in the test's log, appends rec and wakes WaitFor; the
// caller holds mu.
func (s *logStore) add(t testing.TB, text string, rec Record) {
	if !s.ended {
		t.Log(text)
	}
	s.records = append(s.records, rec)
	close(s.changed)
	s.changed = make(chan struct{})
}

// Record is one logged record, with its attributes flattened into a map
// (values as slog prints them; groups as "group.key").
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]string
}

// NewLogs returns a recording handler and a logger writing to it.
func NewLogs(t testing.TB) (*Logs, *slog.Logger) {
	l := &Logs{t: t, s: &logStore{changed: make(chan struct{})}}
	t.Cleanup(func() {
		l.s.mu.Lock()
		l.s.ended = true
		l.s.mu.Unlock()
	})
	return l, slog.New(l)
}

// Logger returns a logger for the test that records nothing but writes to
// t.Log: the plain test logger.
func Logger(t testing.TB) *slog.Logger {
	_, log := NewLogs(t)
	return log
}

// Enabled implements slog.Handler.
func (l *Logs) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (l *Logs) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Message: r.Message, Attrs: map[string]string{}}
	for _, a := range l.attrs {
		addAttr(rec.Attrs, "", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		addAttr(rec.Attrs, l.group, a)
		return true
	})
	l.s.mu.Lock()
	l.s.add(l.t, fmt.Sprint(r.Level, " ", r.Message, " ", rec.Attrs), rec)
	l.s.mu.Unlock()
	return nil
}

func addAttr(m map[string]string, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	key := a.Key
	if prefix != "" {
		key = prefix + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			addAttr(m, key, g)
		}
		return
	}
	m[key] = a.Value.String()
}

// WithAttrs implements slog.Handler.
func (l *Logs) WithAttrs(as []slog.Attr) slog.Handler {
	c := *l
	c.attrs = slices.Clip(l.attrs)
	for _, a := range as {
		if l.group != "" {
			a.Key = l.group + "." + a.Key
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

// WithGroup implements slog.Handler.
func (l *Logs) WithGroup(name string) slog.Handler {
	c := *l
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

// Records returns the records so far.
func (l *Logs) Records() []Record {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return slices.Clone(l.s.records)
}

// Matching returns the records so far for which match is true.
func (l *Logs) Matching(match func(Record) bool) []Record {
	var out []Record
	for _, r := range l.Records() {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// WaitFor waits up to timeout for a record for which match is true and
// returns it; it fails the test when none comes. It is woken by each new
// record, not by a timer.
func (l *Logs) WaitFor(match func(Record) bool, timeout time.Duration) Record {
	l.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		l.s.mu.Lock()
		recs, changed := l.s.records[seen:], l.s.changed
		seen = len(l.s.records)
		l.s.mu.Unlock()
		for _, r := range recs {
			if match(r) {
				return r
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			l.t.Fatalf("no matching log record within %s", timeout)
			return Record{}
		}
	}
}

// HasAttr returns a matcher for records with attribute key equal to value.
func HasAttr(key, value string) func(Record) bool {
	return func(r Record) bool { v, ok := r.Attrs[key]; return ok && v == value }
}

// AtLevel returns a matcher for records at level lvl.
func AtLevel(lvl slog.Level) func(Record) bool {
	return func(r Record) bool { return r.Level == lvl }
}

// HasKey returns a matcher for records with attribute key, whatever its
// value.
func HasKey(key string) func(Record) bool {
	return func(r Record) bool { _, ok := r.Attrs[key]; return ok }
}

// AttrContains returns a matcher for records whose attribute key contains
// s: for an attribute that carries an error, to find the one naming a file.
func AttrContains(key, s string) func(Record) bool {
	return func(r Record) bool { v, ok := r.Attrs[key]; return ok && strings.Contains(v, s) }
}

// All combines matchers: every one must match.
func All(ms ...func(Record) bool) func(Record) bool {
	return func(r Record) bool {
		for _, m := range ms {
			if !m(r) {
				return false
			}
		}
		return true
	}
}

// Message returns a matcher for records with message msg.
func Message(msg string) func(Record) bool {
	return func(r Record) bool { return r.Message == msg }
}
