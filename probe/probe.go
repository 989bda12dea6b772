package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
)

// Defaults.
const (
	DefaultPort    = "8883" // MQTT over TLS (IANA "secure-mqtt")
	DefaultTimeout = 10 * time.Second
)

// Options configure a probe. Address is required; the rest is optional.
type Options struct {
	Address    string // HOST, HOST:PORT or [IPv6]:PORT
	ServerName string // SNI and the name verified; HOST when empty

	CAFile string // trust exactly these CAs (with CAPath), like a client's cafile
	CAPath string // an OpenSSL hash directory, looked up as OpenSSL does
	// With neither, the system store is the trust (SystemRoots in tests).
	SystemRoots *x509.CertPool

	CertFile, KeyFile string // client certificate and key

	MQTT         bool // send an MQTT 3.1.1 CONNECT after TLS
	MQTTUser     string
	MQTTPassword string
	MQTTClientID string // NewClientID() when empty

	SaveDir string        // write the issuing chain here and rehash it
	Timeout time.Duration // for the whole probe; DefaultTimeout when 0
	Offline bool          // do not fetch missing intermediates from AIA URLs

	Log *slog.Logger
}

// SplitAddress splits HOST[:PORT], defaulting the port to 8883.
func SplitAddress(addr string) (host, port string, err error) {
	if addr == "" {
		return "", "", errors.New("no address")
	}
	if h, p, err := net.SplitHostPort(addr); err == nil {
		if h == "" || p == "" {
			return "", "", fmt.Errorf("address %q: empty host or port", addr)
		}
		return h, p, nil
	}
	host = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if strings.ContainsAny(host, "[]/ ") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return "", "", fmt.Errorf("address %q: want HOST, HOST:PORT or [IPv6]:PORT", addr)
	}
	return host, DefaultPort, nil
}

// Probe connects to opts.Address, records the handshake, verifies what the
// server sent, optionally speaks MQTT and saves the chain, and returns a
// report whose Verdict says what is wrong. The error is for the caller's
// own mistakes (unreadable --cafile, bad address, unusable client key) and
// for a failed --save; the report comes back with a --save error too.
func Probe(ctx context.Context, opts Options) (*Report, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, port, err := SplitAddress(opts.Address)
	if err != nil {
		return nil, err
	}
	name := opts.ServerName
	if name == "" {
		name = host
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	timeout := opts.Timeout
	now := time.Now()
	tr, err := loadTrust(opts.CAFile, opts.CAPath, opts.SystemRoots)
	if err != nil {
		return nil, err
	}
	client, err := loadClient(opts.CertFile, opts.KeyFile, now)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	addr := net.JoinHostPort(host, port)
	rep := &Report{Address: addr, ServerName: name, Trust: tr.describe(), Certificates: []CertInfo{}, Diagnosis: []string{}}
	chk := &checker{trust: tr, serverName: name, now: now,
		system: func() (*x509.CertPool, error) { return systemPool(opts.SystemRoots) }}
	if !opts.Offline {
		hc := &http.Client{Timeout: timeout}
		chk.fetch = func(ctx context.Context, urls []string) ([]*x509.Certificate, error) {
			return fetchIssuers(ctx, hc, urls)
		}
	}
	log.Debug("probe: connecting", "address", addr, "server_name", name, "trust", rep.Trust)
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		rep.Verdict, rep.Error, rep.Diagnosis = VerdictConnectFailure, err.Error(), explainDial(err, addr, timeout)
		return rep, nil
	}
	rep.RemoteAddr = raw.RemoteAddr().String()
	s := diagnosticHandshake(ctx, raw, name, client, chk.verifyFull)
	cr := decide(ctx, rep, s, chk, client, addr, timeout)

	if rep.Verdict == VerdictOK && opts.MQTT {
		mqttStage(ctx, rep, s, chk, client, opts)
	}
	if opts.SaveDir != "" {
		if err := saveChain(ctx, rep, cr, opts.SaveDir, log); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// loadClient loads --cert/--key, which come as a pair.
func loadClient(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("--cert and --key go together")
	}
	pair, err := pemfile.LoadPair(certFile, keyFile, now)
	if err != nil {
		return nil, err
	}
	return &pair.TLS, nil
}
