package atomicfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// fullDirEnv names, in the child run of TestWriteFullDisk, the directory
// on a full file system to write into.
const fullDirEnv = "ATOMICFILE_FULL_DIR"

// TestWriteFullDisk: on a file system with no room (a 64 KiB tmpfs in a
// private mount namespace, nearly filled) WriteFile and WriteFiles fail
// with ENOSPC, leave every destination as it was and no temporary file
// behind. The test runs itself again inside the namespace.
func TestWriteFullDisk(t *testing.T) {
	if dir := os.Getenv(fullDirEnv); dir != "" {
		writeFullDisk(t, dir)
		return
	}
	out, err := testutil.InMountNamespace(t, `
mnt=$(mktemp -d)
mount -t tmpfs -o size=64k tmpfs "$mnt"
echo old > "$mnt/old.pem"
echo old > "$mnt/cert.pem"
dd if=/dev/zero of="$mnt/filler" bs=4k count=14 2>/dev/null || true
`+fullDirEnv+`="$mnt" "$1" -test.run='^TestWriteFullDisk$' -test.v
`, os.Args[0])
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWriteFullDisk") {
		t.Fatalf("run on a full tmpfs: %v\n%s", err, out)
	}
}

func writeFullDisk(t *testing.T, dir string) {
	big := bytes.Repeat([]byte("x"), 64<<10)
	if err := WriteFile(filepath.Join(dir, "new.pem"), big, 0o644); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("WriteFile of a new file: %v, want ENOSPC", err)
	}
	if err := WriteFile(filepath.Join(dir, "old.pem"), big, 0o644); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("WriteFile over a file: %v, want ENOSPC", err)
	}
	written, err := WriteFiles([]File{
		{Path: filepath.Join(dir, "cert.pem"), Data: []byte("new\n"), Perm: 0o644},
		{Path: filepath.Join(dir, "key.pem"), Data: big, Perm: 0o600},
	}, Options{})
	if !errors.Is(err, syscall.ENOSPC) || len(written) != 0 {
		t.Errorf("WriteFiles: written %v, %v; want nothing and ENOSPC", written, err)
	}
	for name, want := range map[string]string{"old.pem": "old\n", "cert.pem": "old\n"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want it as it was", name, got, err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if IsTemp(e.Name()) || e.Name() == "new.pem" || e.Name() == "key.pem" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
