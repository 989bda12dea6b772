package runner

import (
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// Tests of run with --trust, --rehash and --acme-*: real Mosquitto, real
// mosquitto_pub/mosquitto_sub and openssl.

// TestRunTrustCapath: run installs the CA into a dir: store and hashes it,
// and clients that know the broker only through that capath connect.
func TestRunTrustCapath(t *testing.T) {
	b := newBroker(t)
	cert, key, serial := b.issue(testutil.CertOpts{})
	certPath, keyPath := testutil.WriteFile(t, b.dir, "server.pem", cert), testutil.WriteFile(t, b.dir, "server-key.pem", key)
	capath := filepath.Join(b.dir, "capath")
	b.writeConf(certPath, keyPath, true)
	b.start("--trust", b.caFile, "--trust-store", "dir:"+capath, "--cert", certPath, "--key", keyPath)
	b.waitServed(serial, 10*time.Second)

	requireLink(t, capath, b.caFile, true)
	viaCapath := mosquittotest.Endpoint{Port: b.port, CAPath: capath}
	sub := mosquittotest.Subscribe(t, viaCapath, "certinit/capath")
	if err := mosquittotest.Publish(t, viaCapath, "certinit/capath", "via capath"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return sub.Got("certinit/capath", "via capath"), "the message sent through the capath did not arrive"
	})
}

// TestRunTrustChangesAndRehashDir: a changed --trust file is installed
// again (a CA it gained is added to the store, one it lost removed), a
// CA file added to a --rehash directory gets its link, each is one
// decision, and the links certinit writes into the watched directory do
// not make it decide again. The broker's configuration names none of
// these files, so they need nothing from it; the --watch file it does not
// name either is signalled.
func TestRunTrustChangesAndRehashDir(t *testing.T) {
	b := newBroker(t)
	cert, key, serial := b.issue(testutil.CertOpts{})
	certPath, keyPath := testutil.WriteFile(t, b.dir, "server.pem", cert), testutil.WriteFile(t, b.dir, "server-key.pem", key)
	trust := testutil.WriteFile(t, filepath.Join(b.dir, "trust"), "ca.pem", testutil.CertPEM(b.ca.Cert))
	capath, peers := filepath.Join(b.dir, "capath"), filepath.Join(b.dir, "peers")
	peer1 := testutil.WriteFile(t, peers, "peer1.pem", testutil.CertPEM(testutil.NewCA(t, "peer 1").Cert))
	marker := testutil.WriteFile(t, b.dir, "marker", []byte("0"))
	b.writeConf(certPath, keyPath, true)
	b.start("--trust", trust, "--trust-store", "dir:"+capath, "--rehash", peers, "--watch", marker,
		"--cert", certPath, "--key", keyPath, "--debounce", "100ms", "--poll", "200ms")
	b.waitServed(serial, 10*time.Second)
	requireLink(t, peers, peer1, true)

	ca2 := testutil.NewCA(t, "second trust CA")
	second := testutil.WriteFile(t, b.dir, "second.pem", testutil.CertPEM(ca2.Cert))
	testutil.RenameOver(t, trust, append(testutil.CertPEM(b.ca.Cert), testutil.CertPEM(ca2.Cert)...))
	b.waitDecision(1, trust, "none")
	requireLink(t, capath, second, true)

	testutil.RenameOver(t, trust, testutil.CertPEM(b.ca.Cert))
	b.waitDecision(2, trust, "none")
	requireLink(t, capath, second, false)
	requireLink(t, capath, b.caFile, true)

	// Written beside, then renamed in: one step in the watched directory.
	peer2 := filepath.Join(peers, "peer2.pem")
	if err := os.Rename(testutil.WriteFile(t, b.dir, "peer2.pem", testutil.CertPEM(testutil.NewCA(t, "peer 2").Cert)), peer2); err != nil {
		t.Fatal(err)
	}
	b.waitDecision(3, peers, "none")
	requireLink(t, peers, peer2, true)
	// The watcher saw the links appear (events come in order); a change
	// made after that is scanned together with, or after, the rehashed
	// directory: had the links changed its fingerprint, the directory
	// would be in this reload or in one more.
	link := filepath.Join(peers, testutil.SubjectHash(t, peer2)+".0")
	b.WaitRecords(testutil.All(testutil.Message("file event"), testutil.HasAttr("path", link)), 1)
	testutil.RenameOver(t, marker, []byte("1"))
	b.waitDecision(4, marker, "signal")
	if n := b.Count(decision); n != 4 {
		t.Fatalf("%d decisions, want 4", n)
	}
	if n := b.Count(testutil.Message("reloading")); n != 1 {
		t.Fatalf("%d reloads, want 1 (for the --watch file)", n)
	}
	b.waitServed(serial, time.Second)
}

// waitDecision waits for the n-th decision on a change (decision) and
// checks it was for path alone, by rule.
func (b *broker) waitDecision(n int, path, rule string) {
	b.t.Helper()
	r := b.WaitRecords(decision, n)
	if got := r.Attrs["changed"]; got != "["+path+"]" || r.Attrs["rule"] != rule {
		b.t.Fatalf("decision %d was %q for %s, want %q for exactly %s", n, r.Attrs["rule"], got, rule, path)
	}
}

// TestRunLocalIssuerRenewal: run obtains a certificate from the local
// issuer, renews it in-process (a 4 s lifetime enters its renewal window
// after about 2.3 s) and reloads the broker, which then serves the new
// serial, while a subscriber connected before keeps its connection.
func TestRunLocalIssuerRenewal(t *testing.T) {
	b := newBroker(t)
	out := filepath.Join(b.dir, "acme")
	b.writeConf(filepath.Join(out, "fullchain.pem"), filepath.Join(out, "privkey.pem"), true)
	b.start("--acme-issuer", "local", "--acme-domain", "localhost", "--acme-domain", "127.0.0.1", "--acme-out", out,
		"--acme-local-validity", "4s", "--acme-renew-before", "30d")
	b.caFile = filepath.Join(out+".cache", "local", "ca.pem")
	first := b.waitServing(10 * time.Second)

	sub := b.subscribe()
	now := b.waitServing(time.Second)
	var renewed *big.Int
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		got, err := b.served()
		if err == nil && got.Cmp(now) != 0 && got.Cmp(first) != 0 {
			renewed = got
			return true, ""
		}
		return false, "still serving the first certificates"
	})
	b.WaitRecords(testutil.Message("renewed"), 1)
	waitOutput(t, b.Certinit, "Reloading config", 1)
	b.publish("after")
	waitGot(t, sub, "after")
	if n := sub.Connects(); n != 1 {
		t.Fatalf("subscriber connected %d times; the reload dropped it", n)
	}
	if pids := b.ChildPIDs(); len(pids) != 1 {
		t.Fatalf("broker started %d times; a renewal must reload, not restart", len(pids))
	}
	t.Logf("serving renewed serial %x", renewed)
}

// requireLink checks that dir has (or has not) a hash link for the
// certificate in file.
func requireLink(t *testing.T, dir, file string, want bool) {
	t.Helper()
	link := filepath.Join(dir, testutil.SubjectHash(t, file)+".0")
	_, err := os.Lstat(link)
	if (err == nil) != want {
		t.Fatalf("%s: exists %v, want %v", link, err == nil, want)
	}
}
