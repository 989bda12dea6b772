package mosquittoconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// lineCases are configuration lines with what Parse must say about them.
// TestParseAgreesWithMosquitto checks every "fatal" against the real broker.
var lineCases = []struct {
	name    string
	lines   string
	problem string // substring of the problem; "" for none
	fatal   bool
}{
	{"plain option", "allow_anonymous true\n", "", false},
	{"two spaces before value", "allow_anonymous  true\n", "", false},
	{"CRLF line ends", "allow_anonymous true\r\nsys_interval 10\r\n", "", false},
	{"line of spaces", "   \nallow_anonymous true\n", "", false},
	{"comment in first column", "# certfile /nope\n", "", false},
	{"indented comment", "  # a comment\n", "indented comment", true},
	{"tab between name and value", "allow_anonymous\ttrue\n", "tab after", true},
	{"line of one tab", "\t\n", "starts with a tab", true},
	{"misspelt option", "adress 127.0.0.1\n", `unknown option "adress"`, true},
	{"invalid boolean", "allow_anonymous yes\n", "invalid allow_anonymous", true},
	{"empty string value", "auto_id_prefix\n", "empty auto_id_prefix", true},
	{"duplicate string", "auto_id_prefix a-\nauto_id_prefix b-\n", "duplicate auto_id_prefix", true},
	{"duplicate user", "user mosquitto\nuser nobody\n", "duplicate user", true},
	{"global boolean", "per_listener_settings false\n", "", false},
	{"trailing comment in a string", "auto_id_prefix auto- # prefix\n", "no trailing comments", false},
	{"number that is not one", "sys_interval ten\n", "not a number", false},
	{"bridge option without connection", "cleansession true\n", "before any connection", true},
	{"missing include_dir", "include_dir /nonexistent/certinit-test\n", "include_dir", true},
}

func TestParseLines(t *testing.T) {
	for _, tc := range lineCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.conf")
			if err := os.WriteFile(path, []byte("listener 1883 127.0.0.1\n"+tc.lines), 0o644); err != nil {
				t.Fatal(err)
			}
			_, probs, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			checkProblems(t, probs, tc.problem, tc.fatal)
		})
	}
}

func checkProblems(t *testing.T, probs []Problem, want string, fatal bool) {
	t.Helper()
	if want == "" {
		if len(probs) > 0 {
			t.Fatalf("unexpected problems: %v", probs)
		}
		return
	}
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, want) || probs[0].Fatal != fatal {
		t.Fatalf("problems %+v, want one containing %q with Fatal=%v", probs, want, fatal)
	}
	if probs[0].Line == 0 && !strings.Contains(want, "include") {
		t.Fatalf("problem without a line number: %+v", probs[0])
	}
}

// TestParseAgreesWithMosquitto runs the real broker on every case: it must
// refuse to start exactly when Parse calls a problem fatal.
func TestParseAgreesWithMosquitto(t *testing.T) {
	for _, tc := range lineCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := fmt.Sprintf("listener %d 127.0.0.1\n%s", testutil.FreePort(t), tc.lines)
			b, started := mosquittotest.Run(t, dir, conf)
			if started == tc.fatal {
				t.Fatalf("mosquitto started=%v, but Parse says fatal=%v; log:\n%s", started, tc.fatal, b.Log())
			}
		})
	}
}

func TestDirectiveValues(t *testing.T) {
	dirs, probs := Parse([]byte("certfile   /etc/a b.pem \t \nrequire_certificate true extra\n"), "x.conf")
	if len(probs) != 0 || len(dirs) != 2 {
		t.Fatalf("dirs %v probs %v", dirs, probs)
	}
	if dirs[0].Value != "/etc/a b.pem" {
		t.Errorf("string value %q, want blanks trimmed and inner space kept", dirs[0].Value)
	}
	if v, ok := dirs[1].Bool(); !v || !ok {
		t.Errorf("bool value of %q = %v,%v", dirs[1].Value, v, ok)
	}
	if dirs[1].Pos() != "x.conf:2" {
		t.Errorf("Pos = %q", dirs[1].Pos())
	}
}
