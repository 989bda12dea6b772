package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// Client offers for openssl s_client's -sigalgs: a client that accepts
// only one key type. Without -sigalgs it offers both, and OpenSSL servers
// then prefer ECDSA.
const (
	onlyECDSA = "ECDSA+SHA256"
	onlyRSA   = "RSA-PSS+SHA256:RSA+SHA256"
)

// TestMosquittoKeepsOldKeyTypeOnHUP pins the broker behaviour that makes
// certinit restart on a key type change (reload/keytype.go has the whole
// table): after an ECDSA to RSA renewal and a HUP, Mosquitto 2.0.11 with
// OpenSSL 3.0 loads the RSA pair beside the old ECDSA one, serves the new
// RSA certificate only to clients that accept nothing else, and keeps
// serving the old ECDSA certificate to everyone else. If this test fails,
// the broker now replaces the certificate on HUP and the restart (which
// drops every client connection) may no longer be needed.
func TestMosquittoKeepsOldKeyTypeOnHUP(t *testing.T) {
	b := newBroker(t)
	cert, key, oldSerial := b.issue(testutil.CertOpts{}) // ECDSA P-256
	certPath, keyPath := testutil.WriteFile(t, b.dir, "server.pem", cert), testutil.WriteFile(t, b.dir, "server-key.pem", key)
	b.writeConf(certPath, keyPath, true)
	b.start() // no --cert: certinit only supervises, as a plain HUP would be sent
	b.waitServed(oldSerial, 10*time.Second)

	cert, key, newSerial := issueRSA(t, b)
	testutil.RenameOver(t, keyPath, key)
	testutil.RenameOver(t, certPath, cert)
	b.Signal(syscall.SIGHUP) // forwarded to Mosquitto
	waitOutput(t, b.Certinit, "Reloading config", 1)
	b.waitServedOffering(newSerial, onlyRSA, 10*time.Second) // the reload is done
	got, err := b.servedOffering("")
	if err != nil {
		t.Fatal(err)
	}
	if got.Cmp(oldSerial) != 0 {
		t.Fatalf("after HUP the default client got serial %x, not the old ECDSA %x: Mosquitto now replaces the certificate on HUP", got, oldSerial)
	}
	if got, err := b.servedOffering(onlyECDSA); err != nil || got.Cmp(oldSerial) != 0 {
		t.Fatalf("after HUP an ECDSA-only client got serial %v (%v), want the old %x", got, err, oldSerial)
	}
}

// TestRunKeyTypeChangeRestarts: certinit run restarts Mosquitto when a
// renewal changes the key type from ECDSA to RSA, logging why, instead of
// signalling it: every client then gets the new RSA certificate and an
// ECDSA-only client gets none (no old one left). The restart disconnects
// a subscriber; it reconnects and gets messages again.
func TestRunKeyTypeChangeRestarts(t *testing.T) {
	b := newBroker(t)
	cert, key, serial := b.issue(testutil.CertOpts{}) // ECDSA P-256
	certPath, keyPath := testutil.WriteFile(t, b.dir, "server.pem", cert), testutil.WriteFile(t, b.dir, "server-key.pem", key)
	copyDir := filepath.Join(b.dir, "broker-certs")
	b.writeConf(filepath.Join(copyDir, "server.pem"), filepath.Join(copyDir, "server-key.pem"), true)
	b.start("--cert", certPath, "--key", keyPath, "--copy-to", copyDir, "--debounce", "100ms")
	b.waitServed(serial, 10*time.Second)
	sub := b.subscribe()
	b.publish("before")
	waitGot(t, sub, "before")

	cert, key, serial = issueRSA(t, b)
	testutil.RenameOver(t, keyPath, key)
	testutil.RenameOver(t, certPath, cert)
	took := b.waitServed(serial, 10*time.Second)
	t.Logf("RSA certificate served to a default client %s after the renewal", took)
	r := b.WaitRecords(testutil.Message("restarting"), 1)
	if !strings.Contains(r.Attrs["reason"], "key type changed from ECDSA P-256 to RSA 2048") {
		t.Fatalf("restart gives reason %q", r.Attrs["reason"])
	}
	if got, err := b.servedOffering(onlyECDSA); err == nil {
		t.Fatalf("an ECDSA-only client still got serial %x: the old certificate survived", got)
	}
	if strings.Contains(b.Out.String(), "Reloading config") {
		t.Fatal("broker was signalled instead of restarted")
	}
	if pids := b.ChildPIDs(); len(pids) != 2 {
		t.Fatalf("child pids %v, want the first broker and its restart", pids)
	}

	sub.WaitOutput(t, "received SUBACK", 2, 15*time.Second)
	b.publish("after")
	waitGot(t, sub, "after")
	t.Logf("subscriber connected %d times", sub.Connects())
}

// issueRSA makes an RSA 2048 server pair for 127.0.0.1, signed by the
// test CA (testutil issues ECDSA only).
func issueRSA(t *testing.T, b *broker) (certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial = big.NewInt(time.Now().UnixNano())
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, b.ca.Cert, k.Public(), b.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testutil.CertPEM(c), testutil.KeyPEM(t, k), serial
}

// servedOffering is broker.served for a client that offers only the
// signature algorithms sigalgs ("" for openssl's default offer).
func (b *broker) servedOffering(sigalgs string) (*big.Int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	args := []string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", b.port),
		"-CAfile", b.caFile, "-verify_return_error", "-servername", "localhost"}
	if sigalgs != "" {
		args = append(args, "-sigalgs", sigalgs)
	}
	cmd := exec.CommandContext(ctx, testutil.RequireTool(b.t, "openssl"), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		return nil, fmt.Errorf("openssl s_client -sigalgs %q: %v: %s", sigalgs, err, msg[strings.LastIndexByte(msg, '\n')+1:])
	}
	certs, err := pemfile.Certificates(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("s_client output: %v", err)
	}
	return certs[0].SerialNumber, nil
}

// waitServedOffering polls until a client offering sigalgs gets serial.
func (b *broker) waitServedOffering(serial *big.Int, sigalgs string, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := b.servedOffering(sigalgs)
		if err == nil && got.Cmp(serial) == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("serial %x not served to a client offering %q within %s: got %v, %v", serial, sigalgs, within, got, err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}
