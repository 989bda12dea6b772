package verify

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// TestMissingIssuerError: the error for a chain that stops below its root
// names the certificate, the issuer that is missing and the URL the
// certificate gives for it, in one line.
func TestMissingIssuerError(t *testing.T) {
	root := mk(t, spec{cn: "Missing Root", ca: true}, nil)
	inter := mk(t, spec{cn: "Issuing CA", ca: true, aia: []string{"http://ca.example/root.der"}}, root)
	leaf := mk(t, spec{cn: "leaf.example"}, inter)
	trust, err := NewTrust(inter.cert)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Chain([]*x509.Certificate{leaf.cert}, trust, Options{Purpose: ServerAuth})
	var ve *Error
	if !errors.As(err, &ve) || !ve.MissingIssuer() || ve.Cert != inter.cert {
		t.Fatalf("Chain = %v, want a missing issuer above the intermediate", err)
	}
	msg := err.Error()
	for _, want := range []string{inter.cert.Subject.String(), root.cert.Subject.String(), "http://ca.example/root.der"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	trust, _ = NewTrust(inter.cert, root.cert)
	built, err := Chain([]*x509.Certificate{leaf.cert}, trust, Options{Purpose: ServerAuth})
	if err != nil || len(built) != 3 || built[2] != root.cert {
		t.Errorf("with the root trusted: chain %d long, err %v", len(built), err)
	}
}
