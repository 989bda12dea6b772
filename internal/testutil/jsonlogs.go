package testutil

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// JSONLogs reads what a certinit process logged with --log-format json
// (one JSON object a line; other lines, such as an error line, are left
// out) into a Logs, so that a test of the binary asserts on levels and
// attributes with the same matchers as a test in process.
func JSONLogs(t testing.TB, output string) *Logs {
	t.Helper()
	l, _ := NewLogs(t)
	for _, line := range strings.Split(output, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		rec := Record{Attrs: map[string]string{}}
		if err := rec.Level.UnmarshalText([]byte(fmt.Sprint(obj[slog.LevelKey]))); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		rec.Message = fmt.Sprint(obj[slog.MessageKey])
		delete(obj, slog.LevelKey)
		delete(obj, slog.MessageKey)
		delete(obj, slog.TimeKey)
		flattenJSON(rec.Attrs, "", obj)
		l.s.records = append(l.s.records, rec)
	}
	return l
}

// flattenJSON adds the values of obj to m as strings, nested objects as
// "group.key", as Logs records slog groups.
func flattenJSON(m map[string]string, prefix string, obj map[string]any) {
	for k, v := range obj {
		if prefix != "" {
			k = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flattenJSON(m, k, sub)
			continue
		}
		m[k] = fmt.Sprint(v)
	}
}
