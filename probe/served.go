package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// ServedChain returns the certificates a TLS server at address (HOST[:PORT],
// port 8883 by default) sends in a handshake, leaf first, as they are: it
// reads what a server actually serves (for run's metrics and readiness),
// where Probe judges it. serverName is the SNI sent ("" for HOST).
//
// Nothing is trusted or sent on the strength of that chain: the connection
// carries the handshake alone and is closed. A server that asks for a
// client certificate gets none; the chain it sent before refusing is still
// returned. ctx bounds the dial and the handshake.
func ServedChain(ctx context.Context, address, serverName string) ([]*x509.Certificate, error) {
	host, port, err := SplitAddress(address)
	if err != nil {
		return nil, err
	}
	if serverName == "" {
		serverName = host
	}
	addr := net.JoinHostPort(host, port)
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	var peer []*x509.Certificate
	cfg := &tls.Config{
		ServerName: serverName,
		MinVersion: tls.VersionTLS10, // an old server's certificate expires too
		// Reading only: VerifyConnection keeps the chain and lets the
		// handshake finish, and nothing travels after it.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			peer = cs.PeerCertificates
			return nil
		},
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	err = conn.HandshakeContext(ctx)
	switch {
	case len(peer) > 0:
		return peer, nil
	case err == nil:
		err = errors.New("the server sent no certificate")
	}
	return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
}
