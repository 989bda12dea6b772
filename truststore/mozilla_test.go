package truststore

import (
	"context"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// TestMozillaRoots gives an empty root (scratch) the embedded Mozilla set:
// every unconstrained root once in the bundle, one hash link each, and a
// second run adds nothing.
func TestMozillaRoots(t *testing.T) {
	want := 0
	for r := range bundle.Roots() {
		if r.Constraint == nil {
			want++
		}
	}
	if want < 100 {
		t.Fatalf("only %d embedded roots", want)
	}
	root := t.TempDir()
	s := openStore(t, root, "auto")
	rep, err := s.Install(context.Background(), nil, InstallOptions{MozillaRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) != want {
		t.Errorf("added %d, want %d", len(rep.Added), want)
	}
	if got := len(bundleCerts(t, filepath.Join(root, certsDir, "ca-certificates.crt"))); got != want {
		t.Errorf("bundle holds %d, want %d", got, want)
	}
	if n := countHashLinks(t, filepath.Join(root, certsDir)); n != want {
		t.Errorf("%d hash links, want %d", n, want)
	}
	checkConsistent(t, s)
	rep, err = s.Install(context.Background(), nil, InstallOptions{MozillaRoots: true})
	if err != nil || len(rep.Added) != 0 || len(rep.Present) != want {
		t.Errorf("second run: err %v, %d added, %d present", err, len(rep.Added), len(rep.Present))
	}
}
