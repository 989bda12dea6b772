package testutil

import (
	"os/exec"
	"testing"
)

// InMountNamespace runs a shell script in a private mount namespace
// (unshare -m; root only), where it may mount a small tmpfs and fill it up
// without touching the machine's mounts, which vanish with the namespace.
// The script runs under sh -e after the mount tree is made private, sees
// args as $1, $2, ..., and has PATH set to the system directories. It
// returns the script's combined output and its exit error.
func InMountNamespace(t testing.TB, script string, args ...string) ([]byte, error) {
	t.Helper()
	RequireRoot(t)
	unshare := RequireTool(t, "unshare")
	cmd := exec.Command(unshare, append([]string{"-m", "sh", "-ec", "mount --make-rprivate /\n" + script, "sh"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	return cmd.CombinedOutput()
}
