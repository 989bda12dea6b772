package truststore

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// storePaths says where a verifier finds a store: its hash directory and
// its bundle, as seen by the command that runs (inside the namespace for
// layouts whose links are absolute).
func storePaths(s *Store) (capath, cafile string, inNS bool) {
	l := s.layout
	switch l.family {
	case familyDebian, familyAlpine:
		return l.CertsDir, l.Bundle, true
	case familyP11Kit:
		dir := l.HashDir
		if l.MirrorDir != "" {
			dir = l.MirrorDir
		}
		return s.root.host(dir), s.root.host(l.Bundle), false
	default:
		return s.root.host(l.CertsDir), s.root.host(l.Bundle), false
	}
}

// runInStore runs a command that reads the store. For Debian and Alpine
// stores (absolute links into the tree) it runs in a private mount
// namespace with the root's etc/ssl and local certificate directory
// mounted over the system's; the machine's own store is never touched.
func runInStore(t *testing.T, s *Store, inNS bool, env []string, name string, args ...string) (string, error) {
	t.Helper()
	var cmd *exec.Cmd
	if inNS {
		testutil.RequireRoot(t)
		script := "set -e; mount --make-rprivate /\n"
		for _, d := range []string{"/etc/ssl", "/usr/local/share/ca-certificates"} {
			script += fmt.Sprintf("mount --bind %q %q\n", s.root.host(d), d)
		}
		script += `exec "$@"`
		cmd = exec.Command(testutil.RequireTool(t, "unshare"), append([]string{"-m", "sh", "-c", script, "sh", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Env = append([]string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestVerifyAgainstStores installs a root CA into every layout and checks
// that `openssl verify -CApath`, `-CAfile` and a Go client (SSL_CERT_DIR,
// SSL_CERT_FILE) accept a leaf issued through an intermediate, and that
// they reject it before the install.
func TestVerifyAgainstStores(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	in := t.TempDir()
	ca := testutil.NewCA(t, "Verify Root CA")
	inter := ca.Intermediate(t, "Verify Intermediate CA")
	leaf, _ := inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "broker.example"}, DNSNames: []string{"broker.example"}})
	rootPEM := testutil.WriteFile(t, in, "root.pem", testutil.CertPEM(ca.Cert))
	other, _ := writeCA(t, in, "other.pem", "Unrelated CA")
	interPEM := testutil.WriteFile(t, in, "inter.pem", testutil.CertPEM(inter.Cert))
	leafPEM := testutil.WriteFile(t, in, "leaf.pem", testutil.CertPEM(leaf))

	for _, spec := range []string{"debian", "alpine", "rhel", "suse", "arch", "dir:/mosquitto/certs"} {
		t.Run(strings.ReplaceAll(spec, "/", "_"), func(t *testing.T) {
			t.Parallel() // mostly waiting for child processes
			root := t.TempDir()
			s := openStore(t, root, spec)
			install(t, s, other)
			capath, cafile, inNS := storePaths(s)
			verify := func(wantOK bool) {
				t.Helper()
				for _, args := range [][]string{{"-CApath", capath}, {"-CAfile", cafile}} {
					out, err := runInStore(t, s, inNS, nil, openssl, append([]string{"verify", "-no-CAfile", "-no-CApath"}, append(args, "-untrusted", interPEM, leafPEM)...)...)
					if (err == nil) != wantOK {
						t.Errorf("openssl verify %s: ok=%v, want %v\n%s", args[0], err == nil, wantOK, out)
					}
				}
				if !wantOK {
					return // the Go client's negative case costs a process each; openssl's suffices
				}
				for _, env := range [][]string{
					{"SSL_CERT_DIR=" + capath, "SSL_CERT_FILE=/nonexistent"},
					{"SSL_CERT_FILE=" + cafile, "SSL_CERT_DIR=/nonexistent"},
				} {
					env = append(env, "CERTINIT_GOCLIENT_LEAF="+leafPEM, "CERTINIT_GOCLIENT_INTER="+interPEM)
					out, err := runInStore(t, s, inNS, env, os.Args[0], "-test.run=^TestGoClientHelper$", "-test.count=1")
					ok := err == nil && strings.Contains(out, "GOCLIENT-OK")
					if ok != wantOK {
						t.Errorf("Go client with %s: ok=%v, want %v\n%s", env[0], ok, wantOK, out)
					}
				}
			}
			verify(false)
			install(t, s, rootPEM)
			checkConsistent(t, s)
			verify(true)
		})
	}
}

// TestGoClientHelper is the Go client of TestVerifyAgainstStores, run as a
// child process so that crypto/x509 reads SSL_CERT_DIR and SSL_CERT_FILE
// afresh.
func TestGoClientHelper(t *testing.T) {
	leafPath := os.Getenv("CERTINIT_GOCLIENT_LEAF")
	if leafPath == "" {
		t.Skip("child process of TestVerifyAgainstStores")
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pemfile.ReadCertificates(leafPath)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := pemfile.ReadCertificates(os.Getenv("CERTINIT_GOCLIENT_INTER"))
	if err != nil {
		t.Fatal(err)
	}
	ipool := x509.NewCertPool()
	ipool.AddCert(inter[0])
	if _, err := leaf[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: ipool, DNSName: "broker.example"}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("GOCLIENT-OK")
}
