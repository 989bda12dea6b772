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
	"slices"
	"strings"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/truststore"
	"github.com/certinit/certinit/verify"
)

// mozillaSet is the Mozilla root set certinit carries, from which --save
// completes a chain; a test seam, since no public intermediate is at hand
// offline.
var mozillaSet = truststore.MozillaRoots

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
	// With neither, the system store is the trust: OpenSSL's default
	// paths, or SystemTrust when not nil (tests).
	SystemTrust *verify.Trust

	CertFile, KeyFile string // client certificate and key

	MQTT         bool // send an MQTT 3.1.1 CONNECT after TLS
	MQTTUser     string
	MQTTPassword string
	MQTTClientID string // NewClientID() when empty

	SaveDir string        // keep the chain up to its root here, as a dir: trust store
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
	tr, err := loadTrust(opts.CAFile, opts.CAPath, opts.SystemTrust)
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
		system:  func() (*verify.Trust, error) { return systemTrust(opts.SystemTrust) },
		mozilla: newRootSet(log)}
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
	addClientNotes(rep, clientPurposeNotes(client, opts.CertFile))
	if opts.SaveDir != "" {
		if err := saveChain(ctx, rep, s.peer, cr, chk, opts.SaveDir, log); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// addClientNotes adds what is wrong with the client certificate's key
// usages: after the first sentence when the server refused that
// certificate, at the end otherwise (a broker that verifies client
// certificates would refuse it).
func addClientNotes(rep *Report, notes []string) {
	if len(notes) == 0 {
		return
	}
	if rep.Verdict == VerdictClientCertRequired && rep.ClientCertSent && len(rep.Diagnosis) > 0 {
		rep.Diagnosis = slices.Concat(rep.Diagnosis[:1], notes, rep.Diagnosis[1:])
		return
	}
	rep.Diagnosis = append(rep.Diagnosis, notes...)
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
