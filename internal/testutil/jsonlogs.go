package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// JSONLines returns a writer for the output of a process that logs with
// slog's JSON handler (certinit --log-format json): every line that is a
// JSON object with a level and a msg becomes a record of l, as if logged
// in-process, so a test of the real binary asserts on structured
// attributes too. Everything written also goes to raw (when not nil),
// where the other lines (a child's own output) can be read.
//
// Attribute values are kept as slog prints them in-process where JSON
// allows: strings as they are, numbers as written, arrays as [a b].
func (l *Logs) JSONLines(raw io.Writer) io.Writer {
	return &jsonLines{l: l, raw: raw}
}

type jsonLines struct {
	l       *Logs
	raw     io.Writer
	mu      sync.Mutex
	partial []byte // a line not yet ended
}

func (w *jsonLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw != nil {
		if _, err := w.raw.Write(p); err != nil {
			return 0, err
		}
	}
	w.partial = append(w.partial, p...)
	for {
		line, rest, ok := bytes.Cut(w.partial, []byte("\n"))
		if !ok {
			break
		}
		w.record(line)
		w.partial = rest
	}
	w.partial = bytes.Clone(w.partial)
	return len(p), nil
}

// record adds line as a record when it is one.
func (w *jsonLines) record(line []byte) {
	if !bytes.HasPrefix(line, []byte("{")) {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return
	}
	level, _ := m[slog.LevelKey].(string)
	msg, ok := m[slog.MessageKey].(string)
	var lvl slog.Level
	if !ok || lvl.UnmarshalText([]byte(level)) != nil {
		return
	}
	r := slog.NewRecord(time.Now(), lvl, msg, 0)
	for k, v := range m {
		if k != slog.TimeKey && k != slog.LevelKey && k != slog.MessageKey {
			r.AddAttrs(slog.Any(k, v))
		}
	}
	_ = w.l.Handle(context.Background(), r)
}
