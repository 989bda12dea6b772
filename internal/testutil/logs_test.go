package testutil

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestLogsFromJSON: what slog's JSON handler (certinit --log-format json)
// writes, fed to Logs in pieces that split lines, gives the records an
// in-process logger gives, and other lines are kept apart.
func TestLogsFromJSON(t *testing.T) {
	var text Buffer
	json := slog.New(slog.NewJSONHandler(&text, &slog.HandlerOptions{Level: slog.LevelDebug}))
	json.Error("reload refused", "reason", errors.New("/x/cert.pem: is a named pipe"), "changed", []string{"/x/cert.pem", "/x/key.pem"})
	json.With("directory", "https://ca/dir").WithGroup("g").Debug("retry", "attempt", 12345678, "ok", false)
	text.Write([]byte("certinit: /x/cert.pem: is a named pipe\n"))

	direct, log := NewLogs(t)
	log.Error("reload refused", "reason", errors.New("/x/cert.pem: is a named pipe"), "changed", []string{"/x/cert.pem", "/x/key.pem"})
	log.With("directory", "https://ca/dir").WithGroup("g").Debug("retry", "attempt", 12345678, "ok", false)

	parsed, _ := NewLogs(t)
	data := []byte(text.String())
	for len(data) > 0 {
		n := min(len(data), 7)
		parsed.Write(data[:n])
		data = data[n:]
	}
	got, want := parsed.Records(), direct.Records()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("from JSON:\n%v\nin process:\n%v", got, want)
	}
	if lines := parsed.Lines(); !slices.Equal(lines, []string{"certinit: /x/cert.pem: is a named pipe"}) {
		t.Errorf("other lines: %q", lines)
	}
	if r := parsed.WaitFor(All(AtLevel(slog.LevelError), AttrContains("reason", "/x/cert.pem")), time.Second); r.Attrs["changed"] != "[/x/cert.pem /x/key.pem]" {
		t.Errorf("changed = %q", r.Attrs["changed"])
	}
}
