package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// Write makes l the standard error of a program that logs with
// --log-format json (certinit run by a test): each JSON line becomes a
// record, as if it had been logged in this process, so that Matching,
// WaitFor and the matchers work on it. Other lines (certinit's closing
// "certinit: ..." line, a child's output) are kept apart (see Lines).
func (l *Logs) Write(p []byte) (int, error) {
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(s.partial[:i])
		s.partial = s.partial[i+1:]
		if rec, ok := parseJSONRecord(line); ok {
			s.add(l.t, line, rec)
			continue
		}
		if !s.ended {
			l.t.Log(line)
		}
		s.lines = append(s.lines, line)
	}
}

// Lines returns the lines written to l that were not JSON records.
func (l *Logs) Lines() []string {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return slices.Clone(l.s.lines)
}

// parseJSONRecord reads one line of slog's JSON handler: level and msg
// become the record's, time is dropped, every other key an attribute,
// formatted as the text handler would (a list as "[a b]", a group as
// "group.key").
func parseJSONRecord(line string) (Record, bool) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if !strings.HasPrefix(line, "{") || dec.Decode(&m) != nil {
		return Record{}, false
	}
	level, _ := m["level"].(string)
	msg, _ := m["msg"].(string)
	rec := Record{Message: msg, Attrs: map[string]string{}}
	if err := rec.Level.UnmarshalText([]byte(level)); err != nil {
		return Record{}, false
	}
	for k, v := range m {
		if k != slog.TimeKey && k != slog.LevelKey && k != slog.MessageKey {
			addJSONAttr(rec.Attrs, k, v)
		}
	}
	return rec, true
}

func addJSONAttr(attrs map[string]string, key string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			addJSONAttr(attrs, key+"."+k, sub)
		}
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = fmt.Sprint(e)
		}
		attrs[key] = "[" + strings.Join(parts, " ") + "]"
	default:
		attrs[key] = fmt.Sprint(v)
	}
}

// JSONLogs reads the whole output of a finished certinit process that
// logged with --log-format json into a Logs (Write does the same for a
// process still running).
func JSONLogs(t testing.TB, output string) *Logs {
	t.Helper()
	l, _ := NewLogs(t)
	if output != "" && !strings.HasSuffix(output, "\n") {
		output += "\n" // the last line, unended
	}
	l.Write([]byte(output))
	return l
}
