package pebbletest

import (
	"crypto/x509"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
)

// Intermediate fetches the certificate that signs the running Pebble's
// leaf certificates from its management API (it is new with every start),
// so a test can require a served certificate to be Pebble's by issuer
// name and signature, not by a name prefix.
func (s *Server) Intermediate(t testing.TB) *x509.Certificate {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.tlsConf}, Timeout: 5 * time.Second}
	resp, err := client.Get("https://" + s.mgmt + "/intermediates/0")
	if err != nil {
		t.Fatalf("pebble management API: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebble intermediate: %s %v", resp.Status, err)
	}
	certs, err := pemfile.Certificates(data)
	if err != nil || len(certs) == 0 {
		t.Fatalf("pebble intermediate: %v", err)
	}
	return certs[0]
}
