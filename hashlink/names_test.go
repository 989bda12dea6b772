package hashlink

import (
	"crypto/x509/pkix"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestIsLookupNameAgreesWithOpenSSL puts a CA under each candidate name,
// alone in a capath directory, and asks `openssl verify -CApath` to find
// it for a leaf it issued: IsLookupName must say yes exactly where
// OpenSSL's lookup opens the name.
func TestIsLookupNameAgreesWithOpenSSL(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	ca := testutil.NewCA(t, "Lookup Name Root")
	leaf, _ := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "leaf.example"}})
	work := t.TempDir()
	leafPath := testutil.WriteFile(t, work, "leaf.pem", testutil.CertPEM(leaf))
	caPEM := testutil.CertPEM(ca.Cert)
	obj, err := ParseCertificate(ca.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	h := FormatHash(obj.Hash)
	upper := strings.ToUpper(h)
	for _, name := range []string{
		h + ".0", upper + ".0", h + ".00", h + ".+0", h + ". 0", h + ".0.pem", h + ".", h + ".-0",
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "capath")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), caPEM, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(openssl, "verify", "-CApath", dir, "-no-CAfile", "-no-CAstore", leafPath)
			out, err := cmd.CombinedOutput()
			opened := err == nil
			if got := IsLookupName(name); got != opened {
				t.Errorf("IsLookupName(%q) = %v; openssl verify found it: %v (%s)", name, got, opened, strings.TrimSpace(string(out)))
			}
		})
	}
}

func TestLinkNameRoundTrip(t *testing.T) {
	for _, name := range []string{"e6dddb6d.0", "e6dddb6d.r0", "00000000.255", "ffffffff.r12"} {
		ln, ok := ParseLinkName(name)
		if !ok || ln.String() != name || !IsLookupName(ln.String()) {
			t.Errorf("%q: parsed %+v (%v), formats back as %q", name, ln, ok, ln.String())
		}
	}
	// Names rehash manages but the lookup never opens.
	for _, name := range []string{"E6DDDB6D.0", "e6dddb6d.R0", "e6dddb6d.00", "e6dddb6d.", "e6dddb6d. 1"} {
		if _, ok := ParseLinkName(name); !ok || IsLookupName(name) {
			t.Errorf("%q: ParseLinkName %v, IsLookupName %v; want true, false", name, ok, IsLookupName(name))
		}
	}
}
