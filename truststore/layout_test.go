package truststore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // in-root path -> content ("" = directory)
		want  string
	}{
		{"empty root (scratch)", nil, "debian"},
		{"debian", map[string]string{"etc/os-release": "ID=debian\n"}, "debian"},
		{"ubuntu", map[string]string{"etc/os-release": "ID=ubuntu\nID_LIKE=debian\n"}, "debian"},
		{"distroless", map[string]string{"etc/os-release": "PRETTY_NAME=\"Distroless\"\nID=debian\n"}, "debian"},
		{"alpine", map[string]string{"etc/os-release": "ID=alpine\n"}, "alpine"},
		{"fedora", map[string]string{"etc/os-release": "ID=fedora\n"}, "rhel"},
		{"amazon linux", map[string]string{"etc/os-release": "ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\n"}, "rhel"},
		{"rocky via ID_LIKE", map[string]string{"usr/lib/os-release": "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"}, "rhel"},
		{"opensuse", map[string]string{"etc/os-release": "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n"}, "suse"},
		{"arch", map[string]string{"etc/os-release": "ID=arch\n"}, "arch"},
		{"unknown ID, RHEL directories", map[string]string{"etc/os-release": "ID=mystery\n", "etc/pki/ca-trust": ""}, "rhel"},
		{"no os-release, apk", map[string]string{"etc/apk": ""}, "alpine"},
		{"no os-release, arch trust source", map[string]string{"etc/ca-certificates/trust-source": ""}, "arch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, content := range tc.files {
				if content == "" {
					testutil.Mkdir(t, filepath.Join(root, p))
				} else {
					testutil.WriteFile(t, root, p, []byte(content))
				}
			}
			if got := openStore(t, root, "auto").Layout().Name; got != tc.want {
				t.Errorf("detected %s, want %s", got, tc.want)
			}
		})
	}
}

// TestLayouts installs, lists and removes in an empty root of every layout
// and checks the files each distribution's tool would have: the local
// source file, the bundle, one hash link per certificate.
func TestLayouts(t *testing.T) {
	in := t.TempDir()
	a, caA := writeCA(t, in, "a.pem", "Layout Root A")
	b, _ := writeCA(t, in, "b.pem", "Layout Root B")
	tests := []struct {
		spec     string
		local    string // directory of installed files
		ext      string
		hashDirs []string // where hash links must be
		bundle   string
	}{
		{"debian", "usr/local/share/ca-certificates", ".crt", []string{"etc/ssl/certs"}, "etc/ssl/certs/ca-certificates.crt"},
		{"alpine", "usr/local/share/ca-certificates", ".crt", []string{"etc/ssl/certs"}, "etc/ssl/certs/ca-certificates.crt"},
		{"rhel", "etc/pki/ca-trust/source/anchors", ".pem", []string{"etc/pki/ca-trust/extracted/pem/directory-hash"}, "etc/pki/tls/certs/ca-bundle.crt"},
		{"suse", "etc/pki/trust/anchors", ".pem", []string{"var/lib/ca-certificates/pem", "etc/ssl/certs"}, "etc/ssl/ca-bundle.pem"},
		{"arch", "etc/ca-certificates/trust-source/anchors", ".crt", []string{"etc/ca-certificates/extracted/cadir", "etc/ssl/certs"}, "etc/ssl/certs/ca-certificates.crt"},
		{"dir:/mosquitto/certs", "mosquitto/certs", ".pem", []string{"mosquitto/certs"}, "mosquitto/certs/ca-certificates.bundle"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.spec, "/", "_"), func(t *testing.T) {
			root := t.TempDir()
			s := openStore(t, root, tc.spec)
			rep := install(t, s, a, b)
			if len(rep.Added) != 2 {
				t.Fatalf("added %d, want 2", len(rep.Added))
			}
			name := stableName(caA.Cert)
			if _, err := os.Stat(filepath.Join(root, tc.local, name+tc.ext)); err != nil {
				t.Errorf("installed file: %v", err)
			}
			if got := bundleCerts(t, filepath.Join(root, tc.bundle)); len(got) != 2 {
				t.Errorf("bundle %s holds %d certificates, want 2", tc.bundle, len(got))
			}
			for _, d := range tc.hashDirs {
				if n := countHashLinks(t, filepath.Join(root, d)); n != 2 {
					t.Errorf("%s: %d hash links, want 2", d, n)
				}
			}
			checkConsistent(t, s)

			list, err := s.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].Hash == "" || list[0].Source == "" {
				t.Fatalf("list = %+v", list)
			}

			// Remove by name, as list shows it.
			if _, err := s.Remove(context.Background(), []string{name}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, tc.local, name+tc.ext)); !os.IsNotExist(err) {
				t.Errorf("removed file still there: %v", err)
			}
			if got := bundleCerts(t, filepath.Join(root, tc.bundle)); len(got) != 1 {
				t.Errorf("bundle holds %d certificates after remove, want 1", len(got))
			}
			for _, d := range tc.hashDirs {
				if n := countHashLinks(t, filepath.Join(root, d)); n != 1 {
					t.Errorf("%s: %d hash links after remove, want 1", d, n)
				}
			}
			checkConsistent(t, s)
			noTemps(t, root)
		})
	}
}

func countHashLinks(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for name := range testutil.Links(t, dir) {
		if isHashName(name) {
			n++
		}
	}
	return n
}

// TestKeepBundle: an image that ships only a bundle (distroless, Alpine's
// ca-certificates-bundle, a RHEL tree without sources) keeps its roots
// when a CA is added, and gets them back exactly when it is removed.
func TestKeepBundle(t *testing.T) {
	in := t.TempDir()
	pub1 := testutil.NewCA(t, "Public Root 1")
	pub2 := testutil.NewCA(t, "Public Root 2")
	private, _ := writeCA(t, in, "private.pem", "Private CA")
	for _, tc := range []struct{ spec, bundle string }{
		{"debian", "etc/ssl/certs/ca-certificates.crt"},
		{"alpine", "etc/ssl/certs/ca-certificates.crt"},
		{"rhel", "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			root := t.TempDir()
			orig := testutil.CertPEM(pub1.Cert, pub2.Cert)
			testutil.WriteFile(t, root, tc.bundle, orig)
			s := openStore(t, root, tc.spec)
			install(t, s, private)
			if got := bundleCerts(t, filepath.Join(root, tc.bundle)); len(got) != 3 {
				t.Fatalf("bundle holds %d certificates, want the image's 2 plus 1", len(got))
			}
			list, _ := s.List(context.Background())
			if len(list) != 3 {
				t.Fatalf("list shows %d certificates, want 3", len(list))
			}
			// Re-running changes nothing.
			d := testutil.TreeDigest(t, root, false)
			if _, err := s.Rebuild(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			if testutil.TreeDigest(t, root, false) != d {
				t.Error("rebuild changed a kept-bundle store")
			}
			if _, err := s.Remove(context.Background(), []string{private}); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(root, tc.bundle))
			if string(got) != string(orig) {
				t.Errorf("after remove the bundle is not the image's again:\n%s", got)
			}
		})
	}
}
