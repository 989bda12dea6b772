package mosquittoconf

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the line parser. Seeds live in
// testdata/fuzz/FuzzParse; `make fuzz` runs it longer.
func FuzzParse(f *testing.F) {
	f.Add([]byte("listener 8883\ncertfile /etc/a.pem\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dirs, probs := Parse(data, "fuzz.conf")
		lines := strings.Count(string(data), "\n") + 1
		for _, d := range dirs {
			if d.Line < 1 || d.Line > lines {
				t.Fatalf("line %d outside 1..%d", d.Line, lines)
			}
			if _, ok := lookup(d.Name); !ok {
				t.Fatalf("unknown option %q accepted", d.Name)
			}
			if d.Value == "" || strings.ContainsAny(d.Value, "\n") || strings.Trim(d.Value, " \t") != d.Value {
				t.Fatalf("value %q not trimmed to one non-empty line", d.Value)
			}
		}
		for _, p := range probs {
			if p.Line < 1 || p.Line > lines || p.Msg == "" {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}
