package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// These tests run real processes (sh) in the test binary itself, one at a
// time: the supervisor's reaper collects every child of the process, so no
// test here may run in parallel or use os/exec while a Supervisor runs.
// Signals sent to certinit itself, PID 1, orphan reaping and their stress
// versions are tested with the real binary in cmd/certinit's
// run_pid1_test.go and run_stress_test.go.

func TestExitCode(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	tests := []struct {
		name   string
		script string
		want   int
	}{
		{"success", "exit 0", 0},
		{"failure", "exit 1", 1},
		{"usage", "exit 2", 2},
		{"high", "exit 200", 200},
		{"max", "exit 255", 255},
		{"killed by TERM", "kill -TERM $$", 128 + 15},
		{"killed by KILL", "kill -KILL $$", 128 + 9},
		{"killed by USR1", "kill -USR1 $$", 128 + 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, err := runSup(t, context.Background(), Options{Args: []string{sh, "-c", tc.script}})
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.want {
				t.Fatalf("exit code %d, want %d", code, tc.want)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := testutil.WriteFile(t, dir, "script", []byte("#!/bin/sh\nexit 0\n"))
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"not in PATH", []string{"certinit-no-such-command"}, CodeNotFound},
		{"no such file", []string{filepath.Join(dir, "missing")}, CodeNotFound},
		{"not executable", []string{notExec}, CodeNotExecutable},
		{"a directory", []string{dir}, CodeNotExecutable},
		{"no command", nil, CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Args: tc.args})
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("New: %v, want a *StartError", err)
			}
			if se.Code != tc.code {
				t.Fatalf("code %d, want %d (%v)", se.Code, tc.code, err)
			}
			if tc.args != nil && !strings.Contains(err.Error(), tc.args[0]) {
				t.Fatalf("error %q does not name the command", err)
			}
		})
	}
}

// TestSignal checks that Signal reaches the child: its trap exits with 7.
func TestSignal(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	script := `trap 'exit 7' USR1; echo > ` + ready + `; while :; do sleep 1 & wait $!; done`
	s, err := New(Options{Args: []string{sh, "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	res := goRun(t, s, context.Background())
	testutil.WaitExists(t, ready, 10*time.Second) // the child's trap is set
	if err := s.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if r := res.wait(t); r.code != 7 {
		t.Fatalf("exit code %d, want 7", r.code)
	}
	if err := s.Signal(syscall.SIGUSR1); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Signal after exit: %v, want ErrNotRunning", err)
	}
}

// TestRestartAndStop restarts the child (it logs each start) and then
// cancels the context, which stops it with SIGTERM. Notify hears each
// start and each exit.
func TestRestartAndStop(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	script := `trap 'exit 3' TERM; echo $$ >> ` + starts + `; while :; do sleep 1 & wait $!; done`
	s, err := New(Options{Args: []string{sh, "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	var afterStart atomic.Int32 // AfterStart runs once, after the first start only
	s.AfterStart(func() { afterStart.Add(1) })
	var notified []bool // written by Run's goroutine, read after Run returned
	s.Notify(func(running bool) { notified = append(notified, running) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := goRun(t, s, ctx)
	testutil.Eventually(t, 10*time.Second, func() (bool, string) { return lines(starts) == 1, "first start" })
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) { return lines(starts) == 2, "second start" })
	cancel()
	if r := res.wait(t); r.err != nil || r.code != 3 {
		t.Fatalf("after stop: code %d, err %v; want 3 from the TERM trap", r.code, r.err)
	}
	if n := afterStart.Load(); n != 1 {
		t.Fatalf("AfterStart ran %d times, want once", n)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(notified, want) {
		t.Fatalf("Notify heard %v, want %v (start, exit for the restart, start, exit)", notified, want)
	}
}

// TestStopTimeout: a child that ignores SIGTERM is killed after the stop
// timeout, and the exit code says so (128+9).
func TestStopTimeout(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	script := `trap '' TERM; echo > ` + ready + `; while :; do sleep 1 & wait $!; done`
	s, err := New(Options{Args: []string{sh, "-c", script}, StopTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := goRun(t, s, ctx)
	testutil.WaitExists(t, ready, 10*time.Second) // the child's trap is set
	cancel()
	if r := res.wait(t); r.code != 137 {
		t.Fatalf("exit code %d, want 137 (SIGKILL after the stop timeout)", r.code)
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want syscall.Signal
		ok   bool
	}{
		{"HUP", syscall.SIGHUP, true},
		{"sighup", syscall.SIGHUP, true},
		{"USR2", syscall.SIGUSR2, true},
		{"10", syscall.SIGUSR1, true},
		{"KILL", 0, false},
		{"CHLD", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSignal(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseSignal(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

type result struct {
	code int
	err  error
}

type pending chan result

func goRun(t *testing.T, s *Supervisor, ctx context.Context) pending {
	t.Helper()
	ch := make(pending, 1)
	go func() {
		code, err := s.Run(ctx)
		ch <- result{code, err}
	}()
	return ch
}

func (p pending) wait(t *testing.T) result {
	t.Helper()
	select {
	case r := <-p:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor did not return within 20s")
		return result{}
	}
}

func runSup(t *testing.T, ctx context.Context, o Options) (int, error) {
	t.Helper()
	s, err := New(o)
	if err != nil {
		return 0, err
	}
	r := goRun(t, s, ctx).wait(t)
	return r.code, r.err
}

func lines(p string) int {
	b, _ := os.ReadFile(p)
	return strings.Count(string(b), "\n")
}
