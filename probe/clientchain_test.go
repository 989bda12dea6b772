package probe

import (
	"crypto/x509/pkix"
	"os/exec"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestClientChainWithoutIntermediate: Mosquitto requires client
// certificates and trusts only the root; the client's --cert file holds
// its leaf, issued by an intermediate, without that intermediate. The real
// mosquitto_pub fails with that file and works with the intermediate after
// the leaf; the probe says client-cert-required, names the intermediate
// that was not sent and the fix, and agrees with mosquitto_pub once the
// file is fixed.
func TestClientChainWithoutIntermediate(t *testing.T) {
	pub := testutil.RequireTool(t, "mosquitto_pub")
	f := newBrokerFiles(t)
	addr := f.startBroker(t, "allow_anonymous true\nrequire_certificate true\ncafile "+f.p.rootFile+"\n")
	_, port, _ := SplitAddress(addr)
	leaf, key := f.p.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "sensor-2"}})
	leafOnly := testutil.WriteFile(t, f.dir, "sensor-2.pem", testutil.CertPEM(leaf))
	fullchain := testutil.WriteFile(t, f.dir, "sensor-2-fullchain.pem", testutil.CertPEM(leaf, f.p.inter.Cert))
	keyFile := testutil.WriteFile(t, f.dir, "sensor-2-key.pem", testutil.KeyPEM(t, key))
	publish := func(cert string) error {
		return exec.Command(pub, "-h", "localhost", "-p", port, "--cafile", f.p.rootFile,
			"--cert", cert, "--key", keyFile, "-t", "certinit/test", "-m", "hello").Run()
	}
	if err := publish(leafOnly); err == nil {
		t.Fatal("mosquitto_pub connected with the leaf alone: the broker does not need the intermediate")
	}
	if err := publish(fullchain); err != nil {
		t.Fatalf("mosquitto_pub with the intermediate after the leaf: %v", err)
	}

	for _, mqtt := range []bool{false, true} {
		o := Options{Address: addr, ServerName: "localhost", CAFile: f.p.rootFile, CertFile: leafOnly, KeyFile: keyFile, MQTT: mqtt}
		rep := run(t, o)
		expect(t, rep, VerdictClientCertRequired, `"`+f.p.inter.Cert.Subject.CommonName+`"`, "--cert")
		o.CertFile = fullchain
		expect(t, run(t, o), VerdictOK)
	}
}
