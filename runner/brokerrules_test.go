package runner

import (
	"crypto/x509/pkix"
	"path/filepath"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// Tests of the rules against a real Mosquitto: each change gets what the
// broker needs for it, and clients see the effect. The broker requires
// client certificates, so what it trusts shows in who may connect.

// client issues a client certificate from ca and returns the broker's
// listener as a client with it reaches it.
func (b *broker) client(ca *testutil.CA, name string) mosquittotest.Endpoint {
	b.t.Helper()
	c, k := ca.Issue(b.t, testutil.CertOpts{Subject: pkix.Name{CommonName: name}})
	ep := b.endpoint()
	ep.CertFile = testutil.WriteFile(b.t, b.dir, name+".pem", testutil.CertPEM(c))
	ep.KeyFile = testutil.WriteFile(b.t, b.dir, name+"-key.pem", testutil.KeyPEM(b.t, k))
	return ep
}

// startTLS starts certinit run on a server pair for a listener whose
// client trust the conf lines extra give, with a 100 ms debounce, and
// returns the pair's paths (--cert and --key, the listener's certfile and
// keyfile).
func (b *broker) startTLS(args []string, extra ...string) (certPath, keyPath string) {
	b.t.Helper()
	cert, key, serial := b.issue(testutil.CertOpts{})
	certPath, keyPath = testutil.WriteFile(b.t, b.dir, "server.pem", cert), testutil.WriteFile(b.t, b.dir, "server-key.pem", key)
	b.writeConf(certPath, keyPath, true, append([]string{"require_certificate true"}, extra...)...)
	b.start(append([]string{"--cert", certPath, "--key", keyPath, "--debounce", "100ms"}, args...)...)
	b.waitServed(serial, 10*time.Second)
	return certPath, keyPath
}

// waitRule waits for the decision with rule on path and returns it.
func (b *broker) waitRule(rule, path string) testutil.Record {
	b.t.Helper()
	return b.WaitRecords(testutil.All(decision, testutil.HasAttr("rule", rule), testutil.HasAttr("path", path)), 1)
}

func mustPublish(t *testing.T, e mosquittotest.Endpoint, msg string) {
	t.Helper()
	if err := mosquittotest.Publish(t, e, "certinit/test", msg); err != nil {
		t.Fatal(err)
	}
}

func mustRefuse(t *testing.T, e mosquittotest.Endpoint, who string) {
	t.Helper()
	if err := mosquittotest.Publish(t, e, "certinit/test", "refused?"); err == nil {
		t.Fatalf("%s connected and published; the broker should refuse it", who)
	}
}

// TestRunCapathRules: the listener's capath is a dir: store that run keeps
// from a --trust bundle. A CA added to the bundle is installed and needs
// nothing: its clients connect at once and a subscriber stays connected,
// with no restart. A CA removed from it restarts the broker, after which
// its clients are refused, while those of the remaining CAs connect.
func TestRunCapathRules(t *testing.T) {
	b := newBroker(t)
	caA, caB, caC := testutil.NewCA(t, "clients A"), testutil.NewCA(t, "clients B"), testutil.NewCA(t, "clients C")
	a, bb, c := b.client(caA, "client-a"), b.client(caB, "client-b"), b.client(caC, "client-c")
	capath := filepath.Join(b.dir, "capath")
	// With --trust the server's own chain must verify to the trust set:
	// the bundle holds the server's CA too.
	trust := testutil.WriteFile(t, filepath.Join(b.dir, "trust"), "clients.pem", testutil.CertPEM(b.ca.Cert, caA.Cert, caB.Cert))
	b.startTLS([]string{"--trust", trust, "--trust-store", "dir:" + capath}, "capath "+capath)
	sub := mosquittotest.Subscribe(t, a, "certinit/test")
	mustPublish(t, bb, "from b")
	waitGot(t, sub, "from b")
	mustRefuse(t, c, "a client of CA C, not yet in the capath")

	testutil.RenameOver(t, trust, testutil.CertPEM(b.ca.Cert, caA.Cert, caB.Cert, caC.Cert))
	r := b.waitRule("none", capath)
	if r.Message != "no reload needed" || r.Attrs["option"] != "capath" {
		t.Fatalf("CA added to the capath: %s %v", r.Message, r.Attrs)
	}
	mustPublish(t, c, "from c")
	waitGot(t, sub, "from c")
	if n := sub.Connects(); n != 1 {
		t.Fatalf("the subscriber connected %d times; adding a CA must not drop it", n)
	}
	if pids := b.ChildPIDs(); len(pids) != 1 {
		t.Fatalf("broker started %d times; adding a CA must not restart it", len(pids))
	}

	testutil.RenameOver(t, trust, testutil.CertPEM(b.ca.Cert, caA.Cert, caC.Cert))
	if r := b.waitRule("restart", capath); r.Message != "restarting" {
		t.Fatalf("CA removed from the capath: %s %v", r.Message, r.Attrs)
	}
	b.WaitRecords(testutil.Message("child started"), 2)
	b.waitServing(10 * time.Second)
	mustRefuse(t, bb, "a client of the removed CA B")
	mustPublish(t, a, "a after the restart")
	mustPublish(t, c, "c after the restart")
}

// TestRunCafileRule: the listener's cafile, which the configuration names
// and no flag does, is watched; a change restarts the broker, which then
// accepts the new CA's clients and refuses the old one's.
func TestRunCafileRule(t *testing.T) {
	b := newBroker(t)
	old, next := testutil.NewCA(t, "clients 1"), testutil.NewCA(t, "clients 2")
	oldClient, nextClient := b.client(old, "client-old"), b.client(next, "client-new")
	cafile := testutil.WriteFile(t, b.dir, "clients.pem", testutil.CertPEM(old.Cert))
	b.startTLS(nil, "cafile "+cafile)
	mustPublish(t, oldClient, "old CA")
	mustRefuse(t, nextClient, "a client of the CA not yet in the cafile")

	testutil.RenameOver(t, cafile, testutil.CertPEM(next.Cert))
	if r := b.waitRule("restart", cafile); r.Message != "restarting" || r.Attrs["option"] != "cafile" {
		t.Fatalf("cafile changed: %s %v", r.Message, r.Attrs)
	}
	b.WaitRecords(testutil.Message("child started"), 2)
	b.waitServing(10 * time.Second)
	mustPublish(t, nextClient, "new CA")
	mustRefuse(t, oldClient, "a client of the CA taken out of the cafile")
}

// TestRunSighupRules: a new CRL in the listener's crlfile gets the reload
// signal, after which the revoked client is refused while a subscriber
// stays connected and the broker is not restarted; so does a renewed pair
// (the listener's certfile and keyfile), which the broker then serves.
func TestRunSighupRules(t *testing.T) {
	b := newBroker(t)
	clients := testutil.NewCA(t, "clients")
	cafile := testutil.WriteFile(t, b.dir, "clients.pem", testutil.CertPEM(clients.Cert))
	revokedCert, revokedKey := clients.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "client-revoked"}})
	revoked := b.endpoint()
	revoked.CertFile = testutil.WriteFile(t, b.dir, "revoked.pem", testutil.CertPEM(revokedCert))
	revoked.KeyFile = testutil.WriteFile(t, b.dir, "revoked-key.pem", testutil.KeyPEM(t, revokedKey))
	kept := b.client(clients, "client-kept")
	crl := testutil.WriteFile(t, b.dir, "clients.crl", clients.CRL(t))
	certPath, keyPath := b.startTLS(nil, "cafile "+cafile, "crlfile "+crl)
	sub := mosquittotest.Subscribe(t, kept, "certinit/test")
	mustPublish(t, revoked, "before")
	waitGot(t, sub, "before")

	testutil.RenameOver(t, crl, clients.CRL(t, revokedCert))
	if r := b.waitRule("sighup", crl); r.Message != "reloading" || r.Attrs["option"] != "crlfile" {
		t.Fatalf("crlfile changed: %s %v", r.Message, r.Attrs)
	}
	waitOutput(t, b.Certinit, "Reloading config", 1)
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return mosquittotest.Publish(t, revoked, "certinit/test", "after") != nil, "the revoked client still connects"
	})
	mustPublish(t, kept, "kept")
	waitGot(t, sub, "kept")
	if n := sub.Connects(); n != 1 {
		t.Fatalf("the subscriber connected %d times; a reload must not drop it", n)
	}

	cert, key, serial := b.issue(testutil.CertOpts{})
	testutil.RenameOver(t, keyPath, key)
	testutil.RenameOver(t, certPath, cert)
	if r := b.waitRule("sighup", certPath); r.Message != "reloading" || r.Attrs["option"] != "certfile" {
		t.Fatalf("pair renewed: %s %v", r.Message, r.Attrs)
	}
	b.waitServed(serial, servedWithin)
	mustPublish(t, kept, "after the renewal")
	waitGot(t, sub, "after the renewal")
	if n := sub.Connects(); n != 1 {
		t.Fatalf("the subscriber connected %d times; a reload must not drop it", n)
	}
	if pids := b.ChildPIDs(); len(pids) != 1 {
		t.Fatalf("broker started %d times; a CRL and a pair are reloaded, not restarted", len(pids))
	}
}
