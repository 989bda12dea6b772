package examples

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// exercised names, for every file under examples/, the test that loads it.
// TestEveryExampleIsExercised fails for a file missing here, so a new
// example cannot land without a test that parses or runs it.
var exercised = map[string]string{
	"bridge/README.md":                    "TestREADMECommandLines, TestBridge",
	"bridge/hub.conf":                     "TestMosquittoConfs, TestBridge",
	"bridge/spoke.conf":                   "TestMosquittoConfs, TestBridge",
	"certbot-volume/README.md":            "TestREADMECommandLines",
	"certbot-volume/compose.yaml":         "TestCompose, TestBrokerContainers",
	"certbot-volume/mosquitto.conf":       "TestMosquittoConfs, TestCompose, TestBrokerContainers",
	"dns01/README.md":                     "TestREADMECommandLines",
	"dns01/compose.yaml":                  "TestCompose, TestACMEContainers",
	"dns01/tsig.key":                      "TestACMEContainers",
	"docker-compose/README.md":            "TestREADMECommandLines",
	"docker-compose/compose.yaml":         "TestCompose, TestACMEContainers",
	"docker-compose/mosquitto.conf":       "TestMosquittoConfs, TestCompose, TestACMEContainers",
	"kubernetes/README.md":                "TestREADMECommandLines",
	"kubernetes/certificate.yaml":         "TestKubernetes, TestBrokerContainers",
	"kubernetes/deployment.yaml":          "TestKubernetes, TestBrokerContainers",
	"kubernetes/mosquitto-configmap.yaml": "TestMosquittoConfs, TestKubernetes, TestBrokerContainers",
	"mbedtls/README.md":                   "TestREADMECommandLines, TestMbedTLSLoadCA",
	"mbedtls/load_ca.c":                   "TestMbedTLSLoadCA",
	"mosquitto-tls/README.md":             "TestREADMECommandLines, TestACMEContainers",
	"mosquitto-tls/mosquitto.conf":        "TestMosquittoConfs, TestACMEContainers",
}

func TestEveryExampleIsExercised(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Dir(path) == "." {
			return err // the package's own files live at the top
		}
		seen[filepath.ToSlash(path)] = true
		if _, ok := exercised[filepath.ToSlash(path)]; !ok {
			t.Errorf("%s: no test exercises this example file: load it in a test and list it in exercised", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := testFuncs(t)
	for _, f := range sortedKeys(exercised) {
		if !seen[f] {
			t.Errorf("exercised lists %s, which does not exist", f)
		}
		for _, name := range strings.Split(exercised[f], ", ") {
			if !tests[name] {
				t.Errorf("exercised names %s for %s, but the package has no such test", name, f)
			}
		}
	}
	dirs, _ := filepath.Glob("*/")
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			if _, err := os.Stat(filepath.Join(d, "README.md")); err != nil {
				t.Errorf("example %s has no README.md", d)
			}
		}
	}
}

// testFuncs lists the package's Test functions.
func testFuncs(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob("*_test.go")
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Test") {
				names[fd.Name.Name] = true
			}
		}
	}
	return names
}

// certinit runs the real binary (built once) with args, and fails the
// test when that takes more than a minute.
func certinit(t testing.TB, args ...string) testutil.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := testutil.Run(t, exec.CommandContext(ctx, testutil.BuildCertinit(t), args...))
	if ctx.Err() != nil {
		t.Fatalf("certinit %s did not finish within a minute:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// mustCertinit is certinit for a step that must succeed; it returns stdout.
func mustCertinit(t testing.TB, args ...string) string {
	t.Helper()
	r := certinit(t, args...)
	if r.Code != 0 {
		t.Fatalf("certinit %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// sortedKeys returns a map's keys in order, for deterministic messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
