package mosquittoconf

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// TestIncludeOrderMatchesMosquitto compares IncludeFiles with the order in
// which the real broker logs "Loading config file".
func TestIncludeOrderMatchesMosquitto(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	names := []string{"b.conf", "B.conf", "a.conf", "_x.conf", "A1.conf", "10-z.conf", "2.conf", "ab.conf", "aB.conf", "\xc3\xa4.conf", ".conf", "skip.txt", "x.conf.bak"}
	for _, n := range names {
		testutil.WriteFile(t, inc, n, []byte("sys_interval 10\n"))
	}
	conf := fmt.Sprintf("listener %d 127.0.0.1\ninclude_dir %s\n", testutil.FreePort(t), inc)
	b := mosquittotest.Start(t, dir, conf)
	var logged []string
	for _, m := range regexp.MustCompile(`Loading config file (\S+)`).FindAllStringSubmatch(b.Log(), -1) {
		logged = append(logged, m[1])
	}
	got, err := IncludeFiles(inc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(logged, "\n") {
		t.Fatalf("IncludeFiles:\n%s\nmosquitto loaded:\n%s", strings.Join(got, "\n"), strings.Join(logged, "\n"))
	}
}

// TestIncludedFileStartsAtDefaultListener checks the rule that surprised us:
// TLS options at the top of an included file configure the default listener
// (port 1883), not the main file's last listener. The broker's log shows
// which listeners it opened.
func TestIncludedFileStartsAtDefaultListener(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	testutil.WriteFile(t, inc, "tls.conf", []byte("max_connections 5\nlistener 1884 127.0.0.1\nmax_connections 7\n"))
	main := testutil.WriteFile(t, dir, "main.conf", []byte("listener 1885 127.0.0.1\nmax_connections 3\ninclude_dir "+inc+"\nmax_qos 1\nconnection b1\naddress 127.0.0.1:1\ntopic # out\nbridge_insecure false\n"))
	cfg, probs, err := Load(main)
	if err != nil || len(probs) > 0 {
		t.Fatalf("Load: %v %v", err, probs)
	}
	want := map[string]string{"default listener": "5", "1885 127.0.0.1": "3", "1884 127.0.0.1": "7"}
	if len(cfg.Listeners) != 3 {
		t.Fatalf("listeners: %d, want 3", len(cfg.Listeners))
	}
	for _, l := range cfg.Listeners {
		key := l.Decl.Value
		if key == "" {
			key = "default listener"
		}
		d, ok := l.Get("max_connections")
		if !ok || d.Value != want[key] {
			t.Errorf("%s: max_connections %q, want %q", l.Name(), d.Value, want[key])
		}
	}
	// After the include, the main file's own listener is current again.
	if d, ok := cfg.Listeners[1].Get("max_qos"); !ok || d.Line != 4 {
		t.Errorf("max_qos after include_dir went to %v", cfg.Listeners)
	}
	if len(cfg.Bridges) != 1 {
		t.Fatalf("bridges: %v", cfg.Bridges)
	}
	if d, ok := cfg.Bridges[0].Get("bridge_insecure"); !ok || d.Value != "false" {
		t.Errorf("bridge option not recorded: %v", cfg.Bridges[0].Options)
	}
	if cfg.UserName() != DefaultUser || len(cfg.Files) != 2 {
		t.Errorf("user %q files %v", cfg.UserName(), cfg.Files)
	}
}

// TestMosquittoOpensDefaultListenerFromInclude backs the previous test with
// the broker itself: TLS-less options in an include open port 1883's
// default listener. It uses max_connections, which needs no files.
func TestMosquittoOpensDefaultListenerFromInclude(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	port := testutil.FreePort(t)
	testutil.WriteFile(t, inc, "a.conf", []byte(fmt.Sprintf("bind_address 127.0.0.1\nport %d\n", port)))
	b := mosquittotest.Start(t, dir, fmt.Sprintf("listener %d 127.0.0.1\ninclude_dir %s\n", testutil.FreePort(t), inc))
	if !strings.Contains(b.Log(), fmt.Sprintf("listen socket on port %d", port)) {
		t.Fatalf("default listener from the included file not opened; log:\n%s", b.Log())
	}
	if err := os.Remove(filepath.Join(inc, "a.conf")); err != nil {
		t.Fatal(err)
	}
}

// brokerWith says whether mosquitto starts with each kind of
// testutil.UnreadableFiles in an include_dir: "hangs" when it waits for a
// writer or reads without end.
var brokerWith = map[string]string{
	"fifo":                       "hangs",
	"link to a character device": "hangs",
	"directory":                  "refuses",
	"oversized":                  "starts",
}

// TestUnreadableFiles: a main file or an included file that is not a
// regular configuration file of sane size is named once, in one error or
// one problem at its include_dir line, without blocking; the problem is
// fatal exactly when mosquitto does not start with it.
func TestUnreadableFiles(t *testing.T) {
	for _, tc := range testutil.UnreadableFiles {
		t.Run(tc.Name, func(t *testing.T) {
			dir := t.TempDir()
			main := filepath.Join(dir, "main.conf")
			tc.Make(t, main)
			_, _, err := loadWithin(t, main)
			if err == nil || !strings.HasPrefix(err.Error(), main+": ") || strings.Count(err.Error(), main) != 1 {
				t.Errorf("Load(%s): error %v, want one naming the file once", tc.Name, err)
			}

			inc := filepath.Join(dir, "conf.d")
			if err := os.Mkdir(inc, 0o755); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(inc, "bad.conf")
			tc.Make(t, bad)
			conf := testutil.WriteFile(t, dir, "with-include.conf", []byte(fmt.Sprintf("listener %d 127.0.0.1\ninclude_dir %s\n", testutil.FreePort(t), inc)))
			cfg, probs, err := loadWithin(t, conf)
			if err != nil {
				t.Fatal(err)
			}
			if len(probs) != 1 || probs[0].File != conf || probs[0].Line != 2 || strings.Count(probs[0].String(), bad) != 1 {
				t.Fatalf("problems %v: want one at %s:2 naming %s once", probs, conf, bad)
			}
			broker := brokerWith[tc.Name]
			if probs[0].Fatal != (broker != "starts") || slices.Contains(cfg.Files, bad) {
				t.Errorf("problem %+v, files %v: mosquitto %s", probs[0], cfg.Files, broker)
			}
			if broker == "hangs" {
				return
			}
			data, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			if b, started := mosquittotest.Run(t, t.TempDir(), string(data)); started != (broker == "starts") {
				t.Errorf("mosquitto started=%v, want %s; log:\n%s", started, broker, b.Log())
			}
		})
	}
}

// loadWithin is Load, failing the test if it does not return in time.
func loadWithin(t *testing.T, path string) (*Config, []Problem, error) {
	t.Helper()
	type result struct {
		cfg   *Config
		probs []Problem
		err   error
	}
	done := make(chan result, 1)
	go func() {
		cfg, probs, err := Load(path)
		done <- result{cfg, probs, err}
	}()
	select {
	case r := <-done:
		return r.cfg, r.probs, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load(%s) blocked", path)
		return nil, nil, nil
	}
}
