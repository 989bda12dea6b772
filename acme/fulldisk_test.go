package acme

import (
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestObtainFullDisk: `certinit acme obtain` of a new certificate into an
// output directory whose file system is full (a small tmpfs in a private
// mount namespace) fails with exit status 1, leaves the files of the
// previous run byte for byte as they were and no temporary file behind.
func TestObtainFullDisk(t *testing.T) {
	obtain := `"$1" acme obtain --issuer local --out "$mnt/live" --cache "$2" --domain`
	code, stderr, before, after := testutil.FullDisk(t, "live",
		obtain+" full.example.test", obtain+" other.example.test",
		testutil.BuildCertinit(t), t.TempDir())
	if code != 1 {
		t.Errorf("exit status %d, want 1:\n%s", code, stderr)
	}
	if before != after {
		t.Errorf("the output directory changed:\n%s\n---\n%s", before, after)
	}
}
