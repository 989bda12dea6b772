package truststore

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// p11Object writes one object of p11-kit's persist format.
func p11Object(fields []string, pemType string, der []byte) string {
	var b strings.Builder
	b.WriteString("[p11-kit-object-v1]\n")
	for _, f := range fields {
		b.WriteString(f + "\n")
	}
	b.WriteString(string(pemEncode(pemType, der)))
	b.WriteString("\n")
	return b.String()
}

func pemEncode(typ string, der []byte) []byte {
	if typ == "CERTIFICATE" {
		c, _ := x509.ParseCertificate(der)
		return pemfile.EncodeCerts(c)
	}
	return []byte(fmt.Sprintf("-----BEGIN %s-----\n%s\n-----END %s-----\n", typ, b64(der), typ))
}

// TestP11KitSources: the system bundle's trusted objects are anchors,
// distrusted objects and blocklisted files are not, and a root whose
// attached extended key usage excludes TLS servers stays out of the
// server-auth bundle.
func TestP11KitSources(t *testing.T) {
	trusted := testutil.NewCA(t, "Trusted Root")
	distrusted := testutil.NewCA(t, "Distrusted Root")
	emailOnly := testutil.NewCA(t, "Email Only Root")
	blocked := testutil.NewCA(t, "Blocked Root")
	local := testutil.NewCA(t, "Local Anchor")
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 4}})
	ext, _ := asn1.Marshal(struct {
		ID    asn1.ObjectIdentifier
		Value []byte
	}{oidEKU, eku})
	var esc strings.Builder
	for _, c := range ext {
		esc.WriteString(fmt.Sprintf("%%%02x", c))
	}
	if _, err := url.PathUnescape(esc.String()); err != nil {
		t.Fatal(err)
	}
	bundle := p11Object([]string{"class: certificate", `label: "Trusted Root"`, "trusted: true"}, "CERTIFICATE", trusted.Cert.Raw) +
		p11Object([]string{"class: certificate", `label: "Distrusted Root"`, "trusted: false", "x-distrusted: true"}, "CERTIFICATE", distrusted.Cert.Raw) +
		p11Object([]string{"class: certificate", `label: "Email Only Root"`, "trusted: true"}, "CERTIFICATE", emailOnly.Cert.Raw) +
		p11Object([]string{"class: x-certificate-extension", "object-id: 2.5.29.37", `value: "` + esc.String() + `"`}, "PUBLIC KEY", emailOnly.Cert.RawSubjectPublicKeyInfo) +
		p11Object([]string{"class: certificate", `label: "Blocked Root"`, "trusted: true"}, "CERTIFICATE", blocked.Cert.Raw)

	root := t.TempDir()
	testutil.WriteFile(t, root, "usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit", []byte(bundle))
	testutil.WriteFile(t, root, "etc/pki/ca-trust/source/blocklist/blocked.pem", testutil.CertPEM(blocked.Cert))
	in := t.TempDir()
	s := openStore(t, root, "rhel")
	install(t, s, testutil.WriteFile(t, in, "local.pem", testutil.CertPEM(local.Cert)))

	got := map[string]bool{}
	for _, c := range bundleCerts(t, filepath.Join(root, "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem")) {
		got[c.Subject.CommonName] = true
	}
	want := map[string]bool{"Trusted Root": true, "Local Anchor": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bundle holds %v, want %v", got, want)
	}
	if n := countHashLinks(t, filepath.Join(root, "etc/pki/ca-trust/extracted/pem/directory-hash")); n != 2 {
		t.Errorf("%d hash links, want 2", n)
	}
	list, _ := s.List(context.Background())
	for _, c := range list {
		if c.Local != (c.Subject == local.Cert.Subject.String()) {
			t.Errorf("%s: local = %v", c.Subject, c.Local)
		}
	}
	// A distribution certificate cannot be removed by name or file.
	if _, err := s.Remove(context.Background(), []string{testutil.WriteFile(t, in, "trusted.pem", testutil.CertPEM(trusted.Cert))}); err == nil {
		t.Error("removed a distribution certificate")
	}
}

func b64(der []byte) string {
	s := base64.StdEncoding.EncodeToString(der)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s)
	return b.String()
}
