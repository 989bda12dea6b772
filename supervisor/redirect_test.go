package supervisor

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// TestRedirect: a redirected signal that certinit receives goes to the
// redirect and not to the child; other signals are forwarded as before.
// The child records each HUP and USR1 it gets; after a HUP (redirected)
// and then a USR1 (forwarded), it has recorded the USR1 alone.
func TestRedirect(t *testing.T) {
	// A HUP or USR1 arriving after Run returned must not kill the test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(guard)

	sh := testutil.RequireTool(t, "sh")
	dir := t.TempDir()
	got, ready := filepath.Join(dir, "got"), filepath.Join(dir, "ready")
	script := `trap 'echo HUP >> ` + got + `' HUP; trap 'echo USR1 >> ` + got + `' USR1; echo > ` + ready +
		`; while :; do sleep 1 & wait $!; done`
	s, err := New(Options{Args: []string{sh, "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	redirected := make(chan struct{}, 1)
	s.Redirect(syscall.SIGHUP, func() { redirected <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	res := goRun(t, s, ctx)
	defer func() { cancel(); res.wait(t) }()
	testutil.WaitExists(t, ready, 10*time.Second)

	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	select {
	case <-redirected:
	case <-time.After(10 * time.Second):
		t.Fatal("the HUP certinit received did not reach the redirect")
	}
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		b, _ := os.ReadFile(got)
		return strings.Contains(string(b), "USR1"), "the child has not recorded the USR1"
	})
	if b, _ := os.ReadFile(got); strings.TrimSpace(string(b)) != "USR1" {
		t.Fatalf("the child recorded %q, want the USR1 alone", b)
	}
}
