package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestProbeSystemStore runs the built binary so that Go's system store
// comes from SSL_CERT_FILE/SSL_CERT_DIR: one with the server's root, and an
// empty one as in a scratch image.
func TestProbeSystemStore(t *testing.T) {
	bin := testutil.BuildCertinit(t)
	p := newCLIPKI(t)
	missing := filepath.Join(t.TempDir(), "none")
	tests := []struct {
		name     string
		certFile string
		code     int
		want     []string
	}{
		{"root in the system store", p.rootFile, 0, []string{"trust: the system trust store\n", "verdict: ok"}},
		{"no system store", missing, 1, []string{"which is empty here", "no system CA certificates", "verdict: unknown-authority"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "probe", p.addr, "--servername", "localhost")
			cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+tc.certFile, "SSL_CERT_DIR="+missing)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
