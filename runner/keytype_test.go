package runner

import (
	"math/big"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
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

	cert, key, newSerial := b.issue(testutil.CertOpts{Key: testutil.NewKey(t, "rsa")})
	testutil.RenameOver(t, keyPath, key)
	testutil.RenameOver(t, certPath, cert)
	b.Signal(syscall.SIGHUP) // forwarded to Mosquitto
	waitOutput(t, b.Certinit, "Reloading config", 1)
	mosquittotest.WaitServed(t, 10*time.Second, newSerial, func() (*big.Int, error) { return b.servedOffering(onlyRSA) }) // the reload is done
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
	certPath, keyPath := startCopying(t, b) // ECDSA P-256
	sub := b.subscribe()

	cert, key, serial := b.issue(testutil.CertOpts{Key: testutil.NewKey(t, "rsa")})
	testutil.RenameOver(t, keyPath, key)
	testutil.RenameOver(t, certPath, cert)
	took := b.waitServed(serial, 10*time.Second)
	t.Logf("RSA certificate served to a default client %s after the renewal", took)
	r := b.WaitRecords(testutil.Message("restarting"), 1)
	if r.Attrs["old_key_type"] != "ECDSA P-256" || r.Attrs["new_key_type"] != "RSA 2048" {
		t.Fatalf("restart for key types %q to %q, want ECDSA P-256 to RSA 2048", r.Attrs["old_key_type"], r.Attrs["new_key_type"])
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

// servedOffering is broker.served for a client that offers only the
// signature algorithms sigalgs ("" for openssl's default offer).
func (b *broker) servedOffering(sigalgs string) (*big.Int, error) {
	if sigalgs == "" {
		return b.served()
	}
	return mosquittotest.ServedSerial(b.t, b.port, b.caFile, "localhost", "-sigalgs", sigalgs)
}
