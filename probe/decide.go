package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"
)

// decide fills the report from the diagnostic session and sets the
// verdict, in the order a real client meets problems: protocol version,
// then the server's certificate, then the client certificate.
func decide(ctx context.Context, rep *Report, s *session, chk *checker, client *tls.Certificate, addr string, timeout time.Duration) chainResult {
	rep.Certificates = describeAll(s.peer)
	if s.state.Version != 0 {
		rep.TLSVersion = tls.VersionName(s.state.Version)
		rep.CipherSuite = tls.CipherSuiteName(s.state.CipherSuite)
	}
	rep.ClientCertRequested = s.certReq != nil
	rep.AcceptableCAs = caNames(s.certReq)
	rep.ClientCertSent = s.clientSent
	if s.err != nil {
		rep.Error = s.err.Error()
		if code, ok := alertFromError(s.err); ok {
			rep.Alert = &Alert{Code: code, Name: alertName(code), SentBy: "server"}
		}
	}

	var cr chainResult
	if len(s.peer) > 0 {
		cr = chk.classify(ctx, s.peer)
		if cr.chain != nil {
			rep.VerifiedChain = describeAll(cr.chain)
		}
		if cr.verr != nil {
			rep.OpenSSLError = &OpenSSLError{Code: int(cr.verr.Code), Depth: cr.verr.Depth, Text: cr.verr.Code.String(),
				Subject: dn(cr.verr.Cert.RawSubject, cr.verr.Cert.Subject)}
		}
	}
	switch {
	case len(s.peer) == 0:
		rep.Verdict = VerdictHandshakeFailure
		rep.Diagnosis = explainHandshake(s.err, addr, timeout, false)
	case s.state.Version != 0 && s.state.Version < tls.VersionTLS12:
		rep.Verdict = VerdictHandshakeFailure
		rep.Diagnosis = []string{fmt.Sprintf("The server negotiated %s. OpenSSL 3 (mosquitto_pub, Python), Go and browsers refuse anything older than TLS 1.2 and end the handshake with alert protocol_version.", tls.VersionName(s.state.Version)),
			"On a mosquitto listener, set tls_version tlsv1.2 (or remove tls_version: the default allows TLS 1.2 and 1.3)."}
	case cr.verdict != VerdictOK:
		rep.Verdict, rep.Diagnosis = cr.verdict, cr.diagnosis
		if s.certReq != nil {
			rep.Diagnosis = append(rep.Diagnosis, "The server also asks for a client certificate"+acceptedSuffix(rep.AcceptableCAs)+"; the probe sends it only to a server that verifies.")
		}
	case s.err != nil:
		code, haveAlert := alertFromError(s.err)
		if s.certReq != nil && (!s.clientSent || (haveAlert && clientCertAlerts[code])) {
			rep.Verdict = VerdictClientCertRequired
			rep.Diagnosis = explainClientCert(code, haveAlert, s.clientSent, client, rep.AcceptableCAs)
			return cr
		}
		rep.Verdict = VerdictHandshakeFailure
		rep.Diagnosis = explainHandshake(s.err, addr, timeout, true)
	default:
		rep.Verdict = VerdictOK
		if s.certReq != nil && !s.clientSent {
			rep.Diagnosis = append(rep.Diagnosis, "The server asks for a client certificate"+acceptedSuffix(rep.AcceptableCAs)+" but accepted the connection without one.")
		}
	}
	return cr
}

func acceptedSuffix(cas []string) string {
	if len(cas) == 0 {
		return ""
	}
	return " (accepted CAs: " + strings.Join(cas, "; ") + ")"
}

// mqttStage opens a second connection that crypto/tls verifies in full and
// sends CONNECT over it; credentials never travel over the diagnostic
// connection.
func mqttStage(ctx context.Context, rep *Report, s *session, chk *checker, client *tls.Certificate, opts Options) {
	id := opts.MQTTClientID
	if id == "" {
		id = NewClientID()
	}
	res := &MQTTResult{ClientID: id}
	rep.MQTT = res
	fail := func(v Verdict, meaning string, diag ...string) {
		res.Meaning = meaning
		rep.Verdict = v
		rep.Diagnosis = append(rep.Diagnosis, diag...)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", rep.RemoteAddr)
	if err != nil {
		fail(VerdictConnectFailure, "", explainDial(err, rep.RemoteAddr, opts.Timeout)...)
		return
	}
	conn := tls.Client(raw, verifiedConfig(chk, client))
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		fail(VerdictHandshakeFailure, "", "The second, fully verified connection for MQTT failed its handshake ("+err.Error()+"): the server behaves differently between connections (a load balancer with mixed configurations?).")
		return
	}
	ack, err := exchangeConnect(conn, Connect{ClientID: id, Username: opts.MQTTUser, Password: opts.MQTTPassword, KeepAlive: 30})
	if err != nil {
		if code, ok := alertFromError(err); ok && s.certReq != nil && clientCertAlerts[code] {
			rep.Alert = &Alert{Code: code, Name: alertName(code), SentBy: "server"}
			fail(VerdictClientCertRequired, "", explainClientCert(code, true, s.clientSent, client, rep.AcceptableCAs)...)
			return
		}
		fail(VerdictMQTTRefused, err.Error(), // the report says "no CONNACK" itself
			"TLS works, but the broker did not answer the MQTT CONNECT with a CONNACK ("+err.Error()+"): is this an MQTT listener (not websockets), and does the broker log why it closed the connection?")
		return
	}
	code := ack.ReturnCode
	res.ReturnCode = &code
	res.Accepted = ack.Accepted()
	if !ack.Accepted() {
		fail(VerdictMQTTRefused, ack.Meaning(), fmt.Sprintf("TLS works, but the broker refused the MQTT connection: return code %d, %s.", code, ack.Meaning()))
		return
	}
	res.Meaning = ack.Meaning()
	conn.Write([]byte{0xe0, 0}) // DISCONNECT, so the broker logs a clean goodbye
}
