package probe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certinit/certinit/internal/safetext"
)

// WriteText writes the report for a person: the facts, then the diagnosis,
// then `verdict: CODE` as the last line. Every value that came from a
// certificate, the server or a file is escaped (names by dn, the rest by
// q), so that none can end its line early and forge the next.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "probe %s, server name %s, trust: %s\n", q(r.Address), q(r.ServerName), q(r.Trust))
	if r.RemoteAddr != "" {
		fmt.Fprintf(b, "connected to %s\n", r.RemoteAddr)
	}
	if r.TLSVersion != "" {
		fmt.Fprintf(b, "%s, %s\n", r.TLSVersion, r.CipherSuite)
	}
	for i, c := range r.Certificates {
		fmt.Fprintf(b, "certificate %d sent by the server:\n", i)
		writeCert(b, c)
	}
	if r.ClientCertRequested {
		sent := "none sent"
		if r.ClientCertSent {
			sent = "sent"
		}
		fmt.Fprintf(b, "client certificate: requested, %s\n", sent)
		for _, ca := range r.AcceptableCAs {
			fmt.Fprintf(b, "  accepted CA: %s\n", q(ca))
		}
	}
	if len(r.VerifiedChain) > 0 {
		var names []string
		for _, c := range r.VerifiedChain {
			names = append(names, q(c.Subject))
		}
		fmt.Fprintf(b, "verified chain: %s\n", strings.Join(names, " <- "))
	}
	if e := r.OpenSSLError; e != nil {
		fmt.Fprintf(b, "openssl: error %d at depth %d (%s): %s\n", e.Code, e.Depth, q(e.Subject), e.Text)
	}
	if r.Alert != nil {
		fmt.Fprintf(b, "alert: %s (%d) from the %s\n", r.Alert.Name, r.Alert.Code, r.Alert.SentBy)
	}
	if r.Error != "" {
		fmt.Fprintf(b, "error: %s\n", q(r.Error))
	}
	if m := r.MQTT; m != nil {
		code := "no CONNACK"
		if m.ReturnCode != nil {
			code = fmt.Sprintf("CONNACK %d", *m.ReturnCode)
		}
		fmt.Fprintf(b, "mqtt: client id %s, %s: %s\n", q(m.ClientID), code, q(m.Meaning))
	}
	for _, s := range r.Saved {
		fmt.Fprintf(b, "saved: %s\n", q(s))
	}
	if len(r.Diagnosis) > 0 {
		fmt.Fprintln(b, "diagnosis:")
		for _, d := range r.Diagnosis {
			fmt.Fprintf(b, "  - %s\n", q(d))
		}
	}
	fmt.Fprintf(b, "verdict: %s\n", r.Verdict)
	return b.Flush()
}

// q is safetext.Quote: the text as it is, or quoted when it holds a
// character that is not printable.
func q(s string) string { return safetext.Quote(s) }

func writeCert(b *bufio.Writer, c CertInfo) {
	fmt.Fprintf(b, "  subject:  %s\n", q(c.Subject))
	fmt.Fprintf(b, "  issuer:   %s\n", q(c.Issuer))
	fmt.Fprintf(b, "  valid:    %s to %s\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	var names []string
	for _, d := range c.DNSNames {
		names = append(names, "DNS:"+q(d))
	}
	for _, ip := range c.IPAddresses {
		names = append(names, "IP:"+ip)
	}
	for _, e := range c.Emails {
		names = append(names, "email:"+q(e))
	}
	for _, u := range c.URIs {
		names = append(names, "URI:"+q(u))
	}
	if len(names) > 0 {
		fmt.Fprintf(b, "  names:    %s\n", strings.Join(names, ", "))
	}
	kind := ""
	if c.IsCA {
		kind = ", CA"
	}
	if c.SelfSigned {
		kind += ", self-signed"
	}
	fmt.Fprintf(b, "  key:      %s%s\n", c.Key, kind)
	if c.SubjectHash != "" {
		fmt.Fprintf(b, "  hash:     %s\n", c.SubjectHash)
	}
	fmt.Fprintf(b, "  sha256:   %s\n", c.SHA256)
	for _, u := range c.AIAIssuers {
		fmt.Fprintf(b, "  issuer URL: %s\n", q(u))
	}
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
