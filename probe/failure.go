package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/certinit/certinit/verify"
)

// explainDial says why the TCP connection failed.
func explainDial(err error, addr string, timeout time.Duration) []string {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return []string{fmt.Sprintf("The host name %q does not resolve (%s): check the name and this machine's DNS.", dnsErr.Name, dnsErr.Err)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return []string{fmt.Sprintf("Nothing listens on %s (connection refused): is the broker running, and is this its TLS port? Mosquitto's TLS listener is the `listener PORT` line with certfile/keyfile under it; 8883 by convention.", addr)}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return []string{fmt.Sprintf("No answer from %s within %s: a firewall drops the packets, the host is down, or the address is wrong.", addr, timeout)}
	case errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH):
		return []string{fmt.Sprintf("No route to %s: check the address and this machine's network.", addr)}
	}
	return []string{fmt.Sprintf("Connecting to %s failed: %v.", addr, err)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// explainHandshake says why a handshake failed before the server sent a
// certificate, or after, for a reason other than its certificate.
func explainHandshake(err error, addr string, timeout time.Duration, gotCerts bool) []string {
	if code, ok := alertFromError(err); ok {
		cause := "the server gave no reason"
		if info, ok := alerts[code]; ok {
			cause = info.cause
		}
		return []string{fmt.Sprintf("The server ended the handshake with alert %s (%d): %s.", alertName(code), code, cause)}
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return []string{fmt.Sprintf("%s does not speak TLS: it answered %s. %s", addr, quoteBytes(rh.RecordHeader[:]), plainHint(rh.RecordHeader[:]))}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unsupported protocol version"):
		return []string{"The server offered only a protocol version older than TLS 1.0 (" + msg + "); no current client accepts it."}
	case (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)) && gotCerts:
		return []string{"The server closed the connection after sending its certificate, without a TLS alert: look for the reason in the server's log."}
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF):
		return []string{fmt.Sprintf("The server closed the connection during the handshake without a TLS alert. A plain MQTT listener does this when it gets TLS (it reads the ClientHello as a malformed packet): check that %s is a listener with certfile and keyfile. A server that rejects the server name may do it too.", addr)}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return []string{fmt.Sprintf("The server accepted the connection but did not complete the handshake within %s: it may not be a TLS port (a plain listener waits for more bytes), or a proxy in between hangs.", timeout)}
	}
	return []string{"The handshake failed: " + msg + "."}
}

// plainHint guesses the plain-text protocol from the first bytes.
func plainHint(b []byte) string {
	switch {
	case strings.HasPrefix(string(b), "HTTP/"):
		return "That is HTTP: wrong port?"
	case b[0]>>4 == 2 || b[0]>>4 == 14:
		return "That looks like plain MQTT: this is a listener without TLS (1883?); use the TLS port or add certfile/keyfile to this listener."
	case strings.HasPrefix(string(b), "SSH-"):
		return "That is SSH: wrong port."
	}
	return "Wrong port, or a listener without certfile/keyfile?"
}

func quoteBytes(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '"' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// clientCertAlerts are alerts a server sends about the client certificate
// (or its absence).
var clientCertAlerts = map[uint8]bool{40: true, 42: true, 43: true, 44: true, 45: true, 46: true, 48: true, 49: true, 51: true, 116: true}

// chainGapAlerts are the alerts with which a server refuses a client
// certificate whose chain it cannot build (OpenSSL: unknown_ca).
var chainGapAlerts = map[uint8]bool{42: true, 46: true, 48: true}

// explainClientCert says what the server wants when it refused the
// client's certificate (client, nil when none was given) or its absence.
func explainClientCert(code uint8, haveAlert, sent bool, client *tls.Certificate, accepted []string) []string {
	var out []string
	acc := "The server did not list the CA names it accepts (mosquitto never does: the listener's cafile or capath decides)."
	if len(accepted) > 0 {
		acc = "The server accepts client certificates issued by: " + strings.Join(accepted, "; ") + "."
	}
	if !sent {
		out = append(out, "The server requires a client certificate (mosquitto: require_certificate true) and the probe sent none: pass --cert and --key.", acc)
		return out
	}
	reason := "it ended the handshake"
	if haveAlert {
		reason = fmt.Sprintf("alert %s (%d): %s", alertName(code), code, alerts[code].cause)
	}
	leaf := client.Leaf
	out = append(out, fmt.Sprintf("The server rejected the client certificate %q (issued by %q): %s.", shortName(leaf), dn(leaf.RawIssuer, leaf.Issuer), reason))
	if issuer, missing := missingClientIssuer(client); missing && (!haveAlert || chainGapAlerts[code]) {
		out = append(out, fmt.Sprintf("The client certificate went out without its issuer %q: the --cert file holds no certificate after the leaf that issued it. "+
			"If %q is an intermediate CA, the server cannot build the chain to the root its cafile or capath holds: put the intermediate's certificate after the leaf in the --cert file (as in a fullchain.pem, leaf first). "+
			"If it is the root, the server does not trust it.", issuer, issuer))
	}
	return append(out, acc)
}

// missingClientIssuer reports whether the chain the client sends lacks the
// issuer of its leaf (the leaf is not self-signed, and no certificate sent
// after it issued it), and names that issuer.
func missingClientIssuer(c *tls.Certificate) (string, bool) {
	leaf := c.Leaf
	if verify.SelfSigned(leaf) {
		return "", false
	}
	for _, der := range c.Certificate[1:] {
		x, err := x509.ParseCertificate(der)
		if err == nil && bytes.Equal(x.RawSubject, leaf.RawIssuer) && leaf.CheckSignatureFrom(x) == nil {
			return "", false
		}
	}
	return shortName(&x509.Certificate{Subject: leaf.Issuer, RawSubject: leaf.RawIssuer}), true
}
