package probe

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/certinit/certinit/verify"
)

// This file explains certificates whose key usages OpenSSL's purpose
// check refuses (verify.Allows): a server certificate that is not for TLS
// servers, and a client or bridge certificate without clientAuth, which
// is what Let's Encrypt certificates have been since 2026.

// ekuNames lists the extended key usages of c by their usual names.
func ekuNames(c *x509.Certificate) string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny: "anyExtendedKeyUsage", x509.ExtKeyUsageServerAuth: "serverAuth",
		x509.ExtKeyUsageClientAuth: "clientAuth", x509.ExtKeyUsageCodeSigning: "codeSigning",
		x509.ExtKeyUsageEmailProtection: "emailProtection", x509.ExtKeyUsageTimeStamping: "timeStamping",
		x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
	}
	var out []string
	for _, u := range c.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("usage %d", u))
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	if len(out) == 0 {
		return "no extended key usage"
	}
	return "extended key usage " + strings.Join(out, ", ")
}

// explainServerPurpose explains OpenSSL's "unsuitable certificate purpose"
// for the server's chain: the certificate at depth is not for TLS servers.
func explainServerPurpose(c *x509.Certificate, depth int) []string {
	if depth == 0 {
		return []string{
			fmt.Sprintf("The server's certificate %q is not for TLS servers (%s, key usage %s): OpenSSL clients (mosquitto_pub, a bridge) refuse it with \"unsuitable certificate purpose\".", shortName(c), ekuNames(c), keyUsageNames(c)),
			"Reissue it for a TLS server: extendedKeyUsage serverAuth (or none at all), key usage digitalSignature.",
		}
	}
	return []string{
		fmt.Sprintf("The CA certificate %q (depth %d) is limited to %s, without serverAuth: OpenSSL checks the purpose on every certificate of the chain, so nothing it issued serves TLS (\"unsuitable certificate purpose\").", shortName(c), depth, ekuNames(c)),
		"Issue server certificates from a CA without that limit, or one whose extended key usage includes serverAuth.",
	}
}

// keyUsageNames lists the key usages that matter for TLS.
func keyUsageNames(c *x509.Certificate) string {
	if c.KeyUsage == 0 {
		return "not restricted"
	}
	var out []string
	for _, u := range []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "digitalSignature"}, {x509.KeyUsageKeyEncipherment, "keyEncipherment"},
		{x509.KeyUsageKeyAgreement, "keyAgreement"}, {x509.KeyUsageCertSign, "keyCertSign"}, {x509.KeyUsageCRLSign, "cRLSign"},
	} {
		if c.KeyUsage&u.bit != 0 {
			out = append(out, u.name)
		}
	}
	return strings.Join(out, ", ")
}

// clientAuthFix is what to do about a client or bridge certificate that
// is not for TLS clients.
const clientAuthFix = "Let's Encrypt certificates no longer carry clientAuth (since 2026): issue client and bridge certificates from a private CA (certinit acme obtain --issuer local) that the remote broker's cafile holds, or authenticate with a username and password instead"

// notForClients says why OpenSSL's purpose check refuses c (the leaf when
// not asCA, else a CA of its chain) as a TLS client certificate, or ""
// when it does not.
func notForClients(c *x509.Certificate, asCA bool) string {
	ok, err := verify.Allows(c, verify.ClientAuth, asCA)
	if err != nil || ok {
		return ""
	}
	what := "certificate"
	if asCA {
		what = "CA certificate"
	}
	return fmt.Sprintf("%s %q is not for TLS clients (%s, without clientAuth)", what, shortName(c), ekuNames(c))
}

// purposeError is what OpenSSL says about a certificate its purpose
// check refuses.
const purposeError = `(OpenSSL: "unsuitable certificate purpose")`

// clientPurposeNotes checks the client certificate chain given with
// --cert; one sentence per certificate a broker would refuse, with the fix.
func clientPurposeNotes(client *tls.Certificate, certFile string) []string {
	if client == nil {
		return nil
	}
	var out []string
	for i, der := range client.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		if why := notForClients(c, i > 0); why != "" {
			out = append(out, fmt.Sprintf("In --cert %s, the %s: a broker that verifies client certificates (require_certificate true) refuses it %s. %s.", certFile, why, purposeError, clientAuthFix))
		}
	}
	return out
}
