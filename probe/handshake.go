package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/certinit/certinit/internal/safetext"
)

// settleTime bounds how long the probe waits, after a TLS 1.3 handshake in
// which the server asked for a client certificate, for the server's verdict
// on it: TLS 1.3 servers check the client certificate after the client has
// finished, so a rejection arrives as an alert after Handshake returns. A
// session ticket (which OpenSSL and Go servers send once they accept the
// client) ends the wait at once.
const settleTime = 2 * time.Second

// session is what the diagnostic handshake recorded.
type session struct {
	peer       []*x509.Certificate // as the server sent them
	verifyErr  error               // full verification (chain and name) inside the handshake
	certReq    *tls.CertificateRequestInfo
	clientSent bool
	state      tls.ConnectionState
	err        error // how the handshake (or the settle read) ended, nil if well
	ticket     bool  // the server sent a session ticket after the handshake
}

// diagnosticHandshake runs a TLS handshake that records everything and
// lets a failing certificate through so the rest of the handshake can be
// observed. It never decides anything from what it lets through: verify
// (the chain as OpenSSL verifies it, and the name) runs inside the
// handshake, and its result (session.verifyErr) also decides whether the
// client certificate is sent. The connection is
// closed before returning; nothing but the handshake travels over it.
func diagnosticHandshake(ctx context.Context, raw net.Conn, serverName string, client *tls.Certificate,
	verify func([]*x509.Certificate) error) *session {
	s := &session{}
	// The callbacks run on this goroutine, inside HandshakeContext.
	cache := &ticketWatch{conn: raw}
	cfg := &tls.Config{
		ServerName: serverName,
		// Diagnostic connection only: VerifyConnection verifies and
		// records the result, which is what the verdict comes from. Accepting here lets the probe see the rest of the
		// handshake (client certificate request, alerts) of a server whose
		// certificate fails, the way `openssl s_client` does.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10, // to recognise old servers, which then get handshake-failure
		VerifyConnection: func(cs tls.ConnectionState) error {
			s.peer = cs.PeerCertificates
			s.verifyErr = verify(cs.PeerCertificates)
			return nil
		},
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			s.certReq = cri
			// The client certificate goes only to a server that verified.
			if client != nil && s.verifyErr == nil && len(s.peer) > 0 {
				s.clientSent = true
				return client, nil
			}
			return &tls.Certificate{}, nil
		},
		ClientSessionCache: cache,
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	err := conn.HandshakeContext(ctx)
	s.state = conn.ConnectionState() // partly filled when the handshake failed
	if err != nil {
		s.err = err
		return s
	}
	if s.certReq != nil && s.state.Version == tls.VersionTLS13 {
		s.err = settle(ctx, conn, raw)
	}
	s.ticket = cache.seen()
	return s
}

// settle waits for the server's reaction to the client's last flight: an
// alert (returned), a session ticket (nil at once), or silence (nil after
// settleTime). TLS 1.3 servers report a rejected client certificate with an
// alert, so anything else counts as acceptance.
func settle(ctx context.Context, conn *tls.Conn, raw net.Conn) error {
	dl := time.Now().Add(settleTime)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	raw.SetReadDeadline(dl)
	var buf [1]byte
	_, err := conn.Read(buf[:])
	var ne net.Error
	if err == nil || errors.Is(err, io.EOF) || (errors.As(err, &ne) && ne.Timeout()) {
		// Data, silence or a plain close: no objection to the client.
		return nil
	}
	return err
}

// ticketWatch is a ClientSessionCache that stores nothing: it notes that a
// session ticket arrived and ends the settle read at once (Put runs inside
// conn.Read, on the reading goroutine).
type ticketWatch struct {
	conn net.Conn
	mu   sync.Mutex
	got  bool
}

var _ tls.ClientSessionCache = (*ticketWatch)(nil)

func (w *ticketWatch) Get(string) (*tls.ClientSessionState, bool) { return nil, false }

func (w *ticketWatch) Put(string, *tls.ClientSessionState) {
	w.mu.Lock()
	w.got = true
	w.mu.Unlock()
	w.conn.SetReadDeadline(time.Now())
}

func (w *ticketWatch) seen() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got
}

// caNames turns the DER names of a CertificateRequest into strings.
func caNames(cri *tls.CertificateRequestInfo) []string {
	if cri == nil {
		return nil
	}
	var out []string
	for _, der := range cri.AcceptableCAs {
		var seq pkix.RDNSequence
		if _, err := asn1.Unmarshal(der, &seq); err != nil {
			out = append(out, "(undecodable name)")
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&seq)
		out = append(out, safetext.Name(n.String()))
	}
	return out
}

// verifiedConfig is the configuration of the connection that carries MQTT:
// the handshake fails unless chk.verifyFull (the chain to the chosen trust
// as OpenSSL verifies it, and the server name) passes. crypto/tls's
// built-in check is replaced because its rules are not OpenSSL's: it takes
// any trusted certificate as an anchor and no intermediates from --cafile
// or --capath.
func verifiedConfig(chk *checker, client *tls.Certificate) *tls.Config {
	cfg := &tls.Config{
		ServerName:         chk.serverName,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyConnection, which fails the handshake
		VerifyConnection: func(cs tls.ConnectionState) error {
			return chk.verifyFull(cs.PeerCertificates)
		},
	}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	return cfg
}
