package truststore

import (
	"context"
	"crypto/x509"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/testutil"
)

func openStore(t testing.TB, root, spec string) *Store {
	t.Helper()
	s, err := Open(root, spec, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func install(t testing.TB, s *Store, files ...string) *Report {
	t.Helper()
	rep, err := s.Install(context.Background(), files, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// writeCA writes a new self-signed CA to dir/name and returns the path.
func writeCA(t testing.TB, dir, name, cn string) (string, *testutil.CA) {
	t.Helper()
	ca := testutil.NewCA(t, cn)
	return testutil.WriteFile(t, dir, name, testutil.CertPEM(ca.Cert)), ca
}

// noTemps fails if a temporary file is left anywhere under root.
func noTemps(t *testing.T, root string) {
	t.Helper()
	if left := testutil.Find(t, root, atomicfile.IsTemp); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// debianTool runs Debian's real update-ca-certificates on the store under
// root, inside a private mount namespace where root's etc/ssl,
// usr/share/ca-certificates, usr/local/share/ca-certificates and
// etc/ca-certificates.conf are bind-mounted over the system's, so the
// machine's own store is never touched. Missing ones are replaced by empty
// stand-ins outside root. It returns the tool's output.
func debianTool(t testing.TB, root string, args ...string) string {
	t.Helper()
	out, err := debianToolRun(t, root, args...)
	if err != nil {
		t.Fatalf("update-ca-certificates: %v\n%s", err, out)
	}
	return out
}

// debianToolRun is debianTool returning the tool's failure.
func debianToolRun(t testing.TB, root string, args ...string) (string, error) {
	t.Helper()
	testutil.RequireRoot(t)
	unshare := testutil.RequireTool(t, "unshare")
	tool := testutil.RequireTool(t, "update-ca-certificates")
	empty := t.TempDir()
	binds := []struct{ rel, sys string }{
		{"etc/ssl", "/etc/ssl"},
		{"usr/share/ca-certificates", "/usr/share/ca-certificates"},
		{"usr/local/share/ca-certificates", "/usr/local/share/ca-certificates"},
		{"etc/ca-certificates.conf", "/etc/ca-certificates.conf"},
	}
	script := "set -e; mount --make-rprivate /\n"
	for i, b := range binds {
		src := filepath.Join(root, b.rel)
		if _, err := os.Stat(src); err != nil {
			src = filepath.Join(empty, fmt.Sprint(i))
			if strings.HasSuffix(b.rel, ".conf") {
				testutil.WriteFile(t, empty, fmt.Sprint(i), nil)
			} else if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		script += fmt.Sprintf("mount --bind %q %q\n", src, b.sys)
	}
	script += fmt.Sprintf("exec %q --hooksdir %q \"$@\"\n", tool, filepath.Join(empty, "no-hooks"))
	cmd := exec.Command(unshare, append([]string{"-m", "sh", "-c", script, "sh"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "TMPDIR=" + empty}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var (
	stockOnce sync.Once
	stockDir  string
	stockErr  error
)

// stockDebianRoot returns a fresh copy of a Debian store as the
// ca-certificates package leaves it: the machine's Mozilla certificate
// files, a ca-certificates.conf selecting them, and /etc/ssl/certs made by
// the real update-ca-certificates. The template is built once per test run.
func stockDebianRoot(t testing.TB) string {
	t.Helper()
	testutil.RequireTool(t, "update-ca-certificates")
	stockOnce.Do(func() {
		stockDir, stockErr = os.MkdirTemp("", "certinit-stock-")
		if stockErr != nil {
			return
		}
		sys := "/usr/share/ca-certificates/mozilla"
		ents, err := os.ReadDir(sys)
		if err != nil || len(ents) == 0 {
			stockErr = fmt.Errorf("no Mozilla certificates in %s (install ca-certificates): %v", sys, err)
			return
		}
		dst := filepath.Join(stockDir, "usr/share/ca-certificates/mozilla")
		for _, d := range []string{dst, filepath.Join(stockDir, "usr/local/share/ca-certificates"), filepath.Join(stockDir, "etc/ssl/certs")} {
			if stockErr = os.MkdirAll(d, 0o755); stockErr != nil {
				return
			}
		}
		var conf strings.Builder
		conf.WriteString("# This file lists certificates that you wish to use or to ignore to be\n# installed in /etc/ssl/certs.\n")
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(sys, e.Name()))
			if err != nil {
				stockErr = err
				return
			}
			if stockErr = os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); stockErr != nil {
				return
			}
			conf.WriteString("mozilla/" + e.Name() + "\n")
		}
		stockErr = os.WriteFile(filepath.Join(stockDir, "etc/ca-certificates.conf"), []byte(conf.String()), 0o644)
	})
	if stockErr != nil {
		t.Fatal(stockErr)
	}
	root := t.TempDir()
	testutil.CopyTree(t, stockDir, root)
	if _, err := os.Stat(filepath.Join(stockDir, "etc/ssl/certs/ca-certificates.crt")); err != nil {
		debianTool(t, root, "--fresh")
		testutil.CopyTree(t, root, stockDir)
	}
	return root
}

// bundleCerts parses a bundle file into certificates.
func bundleCerts(t testing.TB, p string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	certs, err := parseCerts(data)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return certs
}

// checkConsistent fails unless every link under root resolves inside root
// and the store's bundle parses.
func checkConsistent(t testing.TB, s *Store) {
	t.Helper()
	err := filepath.WalkDir(s.root.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, s.root.dir), "/")
		if _, err := s.root.stat(rel); err != nil {
			t.Errorf("dangling link %s: %v", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.BundlePath()); err == nil {
		bundleCerts(t, s.BundlePath())
	}
}

// runTogether starts the commands at once and returns their combined
// outputs and errors when every one has ended.
func runTogether(cmds []*exec.Cmd) ([][]byte, []error) {
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
	}
	wg.Wait()
	return outs, errs
}

// waitedForLock reports whether a certinit run that logged as JSON (its
// output) waited for the lock of dir: the one record at info level naming
// the directory.
func waitedForLock(t testing.TB, output []byte, dir string) bool {
	t.Helper()
	logs := testutil.JSONLogs(t, string(output))
	return len(logs.Matching(testutil.All(testutil.AtLevel(slog.LevelInfo), testutil.HasAttr("path", dir)))) > 0
}
