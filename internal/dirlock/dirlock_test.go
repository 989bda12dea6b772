package dirlock

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// holder is another process (util-linux flock) holding the lock on dir
// until its standard input closes.
type holder struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
}

func hold(t *testing.T, dir string) *holder {
	t.Helper()
	flock := testutil.RequireTool(t, "flock")
	cmd := exec.Command(flock, "--exclusive", "--close", dir, "sh", "-c", "echo locked; read _")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("flock holder: %q, %v", line, err)
	}
	return &holder{cmd: cmd, stdin: in}
}

func TestLockFreeAndHeldInProcess(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second lock of the same directory waits, also in one process.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, dir, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held: %v, want a deadline error", err)
	}
	unlock()
	unlock2, err := Lock(context.Background(), dir, nil)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

func TestLockWaitsForAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	h := hold(t, dir)
	logs, log := testutil.NewLogs(t)
	got := make(chan error, 1)
	go func() {
		unlock, err := Lock(context.Background(), dir, log)
		if err == nil {
			unlock()
		}
		got <- err
	}()
	// It says once that it waits, naming the directory, and still waits.
	logs.WaitFor(testutil.HasAttr("path", dir), 10*time.Second)
	select {
	case err := <-got:
		t.Fatalf("Lock returned while another process held the lock: %v", err)
	default:
	}
	h.stdin.Close() // the holder exits, and its lock goes with it
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lock did not return after the holder released the lock")
	}
	if n := len(logs.Matching(testutil.HasAttr("path", dir))); n != 1 {
		t.Errorf("logged the wait %d times, want once", n)
	}
}

func TestLockAfterHolderKilled(t *testing.T) {
	dir := t.TempDir()
	h := hold(t, dir)
	// SIGKILL the holder (flock; --close keeps the lock out of its shell):
	// the kernel drops the lock.
	syscall.Kill(h.cmd.Process.Pid, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err := Lock(ctx, dir, nil)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	unlock()
}

func TestLockCancelledLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	hold(t, dir)
	before := testutil.FDCount(t, os.Getpid())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs, log := testutil.NewLogs(t)
	go func() {
		_, err := Lock(ctx, dir, log)
		done <- err
	}()
	logs.WaitFor(testutil.AtLevel(slog.LevelInfo), 10*time.Second)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("cancelled Lock: %v, want context.Canceled naming %s", err, dir)
	}
	if after := testutil.FDCount(t, os.Getpid()); after != before {
		t.Errorf("open descriptors %d before, %d after a cancelled Lock", before, after)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Errorf("the directory holds %v (%v) after locking; want it empty", ents, err)
	}
}

func TestLockErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"missing", filepath.Join(dir, "missing"), os.ErrNotExist},
		{"file", file, syscall.ENOTDIR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Lock(context.Background(), tc.path, nil)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("Lock(%s): %v, want %v naming the path", tc.path, err, tc.want)
			}
		})
	}
}
