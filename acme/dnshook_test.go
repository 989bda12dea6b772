package acme

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// hookScript writes an executable shell script; each run appends a line
// to the returned log file through the script's own "note" function.
func hookScript(t *testing.T, name, body string) (path, calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := fmt.Sprintf("#!/bin/sh\nnote() { echo \"$*\" >> %s; }\n%s\n", calls, body)
	path = testutil.WriteFile(t, dir, name, []byte(script))
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path, calls
}

// readCalls returns the lines the scripts noted, sorted.
func readCalls(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	lines := strings.Fields(strings.ReplaceAll(string(data), " ", "|"))
	slices.Sort(lines)
	return lines
}

// nsupdate is the shell line that sends one update to the test's BIND.
func (w *dnsWorld) nsupdate(op, name, value string) string {
	return fmt.Sprintf(`printf 'server 127.0.0.1 %s\nupdate %s %s 60 IN TXT "%s"\nsend\n' | nsupdate -k %s`,
		strings.TrimPrefix(w.bind.Addr, "127.0.0.1:"), op, name, value, w.bind.KeyFile)
}

// TestDNSHook issues through hook scripts that call the real nsupdate,
// written the way lego's exec provider and certbot's manual hooks are.
func TestDNSHook(t *testing.T) {
	testutil.RequireTool(t, "nsupdate")
	w := startDNSWorld(t)
	rootFile, roots := writeRoot(t, w.p.RootPEM(t)), w.p.Roots(t)

	t.Run("lego exec protocol, CNAME followed", func(t *testing.T) {
		// One program: "present|cleanup FQDN VALUE".
		hook, calls := hookScript(t, "lego.sh", `set -e
note "$1 $2 $CERTBOT_DOMAIN $CERTBOT_REMAINING_CHALLENGES"
case "$1" in present) op=add ;; cleanup) op=delete ;; *) exit 2 ;; esac
`+w.nsupdate(`'"$op"'`, `'"$2"'`, `'"$3"'`))
		cfg := w.config(t, "lego.example.test", "alias.example.test")
		cfg.DNSHook = hook
		iss, logs := mustNew(t, cfg)
		obtain(t, iss)
		checkOutput(t, cfg.Out, roots, rootFile, "alias.example.test", KeyECDSA, 0o600)
		w.checkRecords(t, logs, "_acme-challenge.lego.example.test.", "alias.acme.test.")
		// CERTBOT_REMAINING_CHALLENGES counts down in the CA's order of
		// the authorizations, which is not the configuration's.
		remaining := map[string]string{}
		var got []string
		for _, c := range readCalls(t, calls) {
			f := strings.Split(c, "|")
			remaining[f[0]] += f[3]
			got = append(got, strings.Join(f[:3], "|"))
		}
		want := []string{
			"cleanup|_acme-challenge.lego.example.test.|lego.example.test",
			"cleanup|alias.acme.test.|alias.example.test",
			"present|_acme-challenge.lego.example.test.|lego.example.test",
			"present|alias.acme.test.|alias.example.test",
		}
		if !slices.Equal(got, want) {
			t.Errorf("hook runs %v, want %v", got, want)
		}
		for action, r := range remaining {
			if r != "01" && r != "10" {
				t.Errorf("%s runs saw CERTBOT_REMAINING_CHALLENGES %q, want 1 then 0", action, r)
			}
		}
	})

	t.Run("certbot auth and cleanup scripts, through the shell", func(t *testing.T) {
		// Two scripts that read only certbot's environment; the cleanup
		// gets what the auth script printed.
		auth, calls := hookScript(t, "auth.sh", `set -e
`+w.nsupdate("add", `_acme-challenge.'"$CERTBOT_DOMAIN"'.`, `'"$CERTBOT_VALIDATION"'`)+`
echo "id-$CERTBOT_REMAINING_CHALLENGES"`)
		cleanup := filepath.Join(filepath.Dir(calls), "cleanup.sh")
		script := fmt.Sprintf("#!/bin/sh\nset -e\necho \"cleanup $CERTBOT_DOMAIN $CERTBOT_AUTH_OUTPUT $CERTBOT_ALL_DOMAINS\" >> %s\n%s\n", calls,
			w.nsupdate("delete", `_acme-challenge.'"$CERTBOT_DOMAIN"'.`, `'"$CERTBOT_VALIDATION"'`))
		if err := os.WriteFile(cleanup, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := w.config(t, "cb.example.test", "*.cb.example.test")
		cfg.DNSHook, cfg.DNSCleanupHook = "/bin/sh "+auth, "/bin/sh "+cleanup
		iss, logs := mustNew(t, cfg)
		obtain(t, iss)
		checkOutput(t, cfg.Out, roots, rootFile, "host.cb.example.test", KeyECDSA, 0o600)
		w.checkRecords(t, logs, "_acme-challenge.cb.example.test.", "_acme-challenge.cb.example.test.")
		all := "cb.example.test,cb.example.test"
		want := []string{"cleanup|cb.example.test|id-0|" + all, "cleanup|cb.example.test|id-1|" + all}
		if got := readCalls(t, calls); !slices.Equal(got, want) {
			t.Errorf("cleanup runs %v, want %v", got, want)
		}
	})
}

// TestDNSHookFailures: a hook that fails, one that hangs, one that
// publishes nothing. Each is one error naming the hook (with its output)
// or the missing record, the cleanup still runs, and nothing is written.
func TestDNSHookFailures(t *testing.T) {
	w := startDNSWorld(t)
	tests := []struct {
		name  string
		body  string
		words []string
	}{
		{"fails", `note "$1"; [ "$1" = cleanup ] && exit 0; echo "zone example.test is locked" >&2; exit 3`,
			[]string{"exit status 3", "zone example.test is locked", "present _acme-challenge.fail.example.test."}},
		{"hangs", `note "$1"; [ "$1" = cleanup ] && exit 0; echo "asking the provider"; sleep 600 & echo $! > "$0.child"; wait`,
			[]string{"did not finish within 2s and was killed", "asking the provider"}},
		{"publishes nothing", `note "$1"; exit 0`,
			[]string{"TXT record _acme-challenge.fail.example.test.", "not visible after 2s", "no TXT record", "zone example.test."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hook, calls := hookScript(t, "hook.sh", tc.body)
			cfg := w.config(t, "fail.example.test")
			cfg.DNSHook, cfg.DNSTimeout = hook, 2*time.Second
			iss, logs := mustNew(t, cfg)
			err := obtainErr(t, iss, time.Minute)
			if !errors.Is(err, ErrChallenge) {
				t.Errorf("err is not ErrChallenge")
			}
			for _, w := range append(tc.words, "fail.example.test") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q", w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has more than one line")
			}
			if tc.name == "publishes nothing" {
				// The wait says where the record is missing while it goes on.
				rec := logs.WaitFor(testutil.HasKey("missing_at"), time.Second)
				if !strings.Contains(rec.Attrs["missing_at"], "no TXT record") || rec.Attrs["fqdn"] != "_acme-challenge.fail.example.test." {
					t.Errorf("progress record %v", rec.Attrs)
				}
			}
			if got := readCalls(t, calls); !slices.Equal(got, []string{"cleanup", "present"}) {
				t.Errorf("hook runs %v, want present then cleanup", got)
			}
			if _, err := os.Stat(cfg.Out); !os.IsNotExist(err) {
				t.Errorf("output directory exists after a failure: %v", err)
			}
			if data, err := os.ReadFile(hook + ".child"); err == nil {
				// What the hanging hook started was killed with it.
				pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
				if st, err := testutil.ReadProcStatus(pid); err == nil && !st.Zombie() {
					t.Errorf("the hook's child %d is still running: %+v", pid, st)
				}
			}
		})
	}

	t.Run("cleanup fails", func(t *testing.T) {
		hook, _ := hookScript(t, "hook.sh", `set -e
[ "$1" = cleanup ] && { echo "API down" >&2; exit 1; }
`+w.nsupdate("add", `'"$2"'`, `'"$3"'`))
		cfg := w.config(t, "cleanup.example.test")
		cfg.DNSHook = hook
		iss, logs := mustNew(t, cfg)
		obtain(t, iss)
		rec := logs.WaitFor(testutil.All(testutil.AtLevel(slog.LevelError), testutil.HasAttr("fqdn", "_acme-challenge.cleanup.example.test.")), time.Second)
		if !strings.Contains(rec.Attrs["err"], "API down") {
			t.Errorf("the failed cleanup's record does not carry the hook's output: %v", rec.Attrs)
		}
	})
}

// TestDNSHookHoldsReapLock: while the hook program runs, the reaper lock
// is held for reading, so a supervisor's reaper (which takes it for
// writing) cannot take the hook's exit status; afterwards it is free.
func TestDNSHookHoldsReapLock(t *testing.T) {
	w := startDNSWorld(t)
	dir := t.TempDir()
	started, release := filepath.Join(dir, "started"), filepath.Join(dir, "release")
	for _, f := range []string{started, release} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hook, _ := hookScript(t, "hook.sh", fmt.Sprintf(`set -e
if [ "$1" = present ]; then echo > %s; read line < %s; fi
%s`, started, release, w.nsupdate(`'"$([ "$1" = present ] && echo add || echo delete)"'`, `'"$2"'`, `'"$3"'`)))
	var reap sync.RWMutex
	cfg := w.config(t, "reap.example.test")
	cfg.DNSHook, cfg.ReapLock = hook, &reap
	iss, _ := mustNew(t, cfg)
	done := make(chan error, 1)
	go func() { _, err := iss.Obtain(t.Context()); done <- err }()

	if _, err := os.ReadFile(started); err != nil { // blocks until the hook runs
		t.Fatal(err)
	}
	if reap.TryLock() {
		reap.Unlock()
		t.Error("the reaper lock was free while the hook ran")
	}
	if err := os.WriteFile(release, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !reap.TryLock() {
		t.Fatal("the reaper lock is still held after Obtain")
	}
	reap.Unlock()
}
