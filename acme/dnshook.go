package acme

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hookPublisher publishes DNS-01 records through the user's program, with
// the contract that existing scripts follow, so that a certbot manual hook
// or a lego exec-provider script works unchanged:
//
//   - arguments as lego's exec provider passes them: "present FQDN VALUE"
//     to publish and "cleanup FQDN VALUE" to remove, FQDN being where the
//     record goes (_acme-challenge.NAME., or the end of its CNAME chain);
//   - environment as certbot's manual hooks get it: CERTBOT_DOMAIN (the
//     name validated, without "*."), CERTBOT_VALIDATION (the TXT value),
//     CERTBOT_ALL_DOMAINS, CERTBOT_REMAINING_CHALLENGES, and for the
//     cleanup CERTBOT_AUTH_OUTPUT (what the publishing run printed).
//
// A command that is one word is run directly (no shell needed, so it works
// in a scratch image); a command line with spaces is run by /bin/sh with
// the arguments appended, as certbot runs its hooks. The cleanup runs the
// cleanup command when one is configured, the hook itself otherwise.
//
// Each run is bounded by the DNS timeout; a run that fails or outlives it
// (its whole process group is killed) is one error naming the command,
// with what it printed.
type hookPublisher struct {
	hook, cleanupHook string
	timeout           time.Duration
	// reap is the supervisor's reaper lock, or nil: held for reading
	// while the program runs (see Config.ReapLock).
	reap *sync.RWMutex
	log  *slog.Logger
}

func (h *hookPublisher) String() string { return fmt.Sprintf("the DNS hook %q", h.hook) }

func (h *hookPublisher) present(ctx context.Context, r *txtRecord) error {
	out, err := h.run(ctx, h.hook, "present", r)
	r.authOutput = strings.TrimSpace(out)
	return err
}

func (h *hookPublisher) cleanup(ctx context.Context, r *txtRecord) error {
	cmd := h.cleanupHook
	if cmd == "" {
		cmd = h.hook
	}
	_, err := h.run(ctx, cmd, "cleanup", r)
	return err
}

// maxHookOutput bounds what is kept of a hook's output.
const maxHookOutput = 4 << 10

// run runs command for one record and returns its standard output.
func (h *hookPublisher) run(ctx context.Context, command, action string, r *txtRecord) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	args := []string{action, r.fqdn, r.value}
	var cmd *exec.Cmd
	if strings.ContainsAny(strings.TrimSpace(command), " \t") {
		cmd = exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", command + ` "$@"`, "certinit-dns-hook"}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, strings.TrimSpace(command), args...)
	}
	cmd.Env = append(os.Environ(),
		"CERTBOT_DOMAIN="+r.domain,
		"CERTBOT_VALIDATION="+r.value,
		"CERTBOT_ALL_DOMAINS="+strings.Join(r.all, ","),
		"CERTBOT_REMAINING_CHALLENGES="+strconv.Itoa(r.remaining),
	)
	if action == "cleanup" {
		cmd.Env = append(cmd.Env, "CERTBOT_AUTH_OUTPUT="+r.authOutput)
	}
	stdout, stderr := &tailBuffer{max: maxHookOutput}, &tailBuffer{max: maxHookOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so that a timeout kills what the hook
	// started too (a shell's children hold its output open).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second

	start := time.Now()
	err := h.runLocked(cmd)
	h.log.Debug("DNS hook ran", "hook", command, "action", action, "fqdn", r.fqdn,
		"took", time.Since(start).Round(time.Millisecond), "err", err)
	if err == nil {
		return stdout.String(), nil
	}
	what := err.Error()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		what = fmt.Sprintf("did not finish within %s and was killed", h.timeout)
	}
	out := oneLine(stdout.String() + "\n" + stderr.String())
	if out == "" {
		out = "no output"
	}
	return stdout.String(), fmt.Errorf("DNS hook %q (%s %s): %s; output: %s", command, action, r.fqdn, what, out)
}

// runLocked runs cmd holding the reaper lock for reading from start to
// wait, when there is one.
func (h *hookPublisher) runLocked(cmd *exec.Cmd) error {
	if h.reap != nil {
		h.reap.RLock()
		defer h.reap.RUnlock()
	}
	return cmd.Run()
}

// oneLine joins output lines for a one-line error.
func oneLine(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " | ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
