package probe

import (
	"crypto/x509/pkix"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// brokerFiles writes a server certificate chain and key for mosquitto.
type brokerFiles struct {
	p                   *testPKI
	dir                 string
	fullchain, key      string
	clientCert, clientK string
}

func newBrokerFiles(t *testing.T) *brokerFiles {
	t.Helper()
	p := newPKI(t, "Mosquitto")
	dir := t.TempDir()
	leaf, key := p.inter.Issue(t, testutil.Localhost())
	cLeaf, cKey := p.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "sensor-1"}})
	return &brokerFiles{
		p:          p,
		dir:        dir,
		fullchain:  testutil.WriteFile(t, dir, "fullchain.pem", testutil.CertPEM(leaf, p.inter.Cert)),
		key:        testutil.WriteFile(t, dir, "privkey.pem", testutil.KeyPEM(t, key)),
		clientCert: testutil.WriteFile(t, dir, "client.pem", testutil.CertPEM(cLeaf, p.inter.Cert)),
		clientK:    testutil.WriteFile(t, dir, "client-key.pem", testutil.KeyPEM(t, cKey)),
	}
}

// startBroker starts mosquitto with a TLS listener (and extra lines) and
// returns its address.
func (f *brokerFiles) startBroker(t *testing.T, extra string) string {
	t.Helper()
	port := testutil.FreePort(t)
	conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n%s", port, f.fullchain, f.key, extra)
	mosquittotest.Start(t, t.TempDir(), conf)
	return "127.0.0.1:" + strconv.Itoa(port)
}

func TestMosquittoMQTT(t *testing.T) {
	f := newBrokerFiles(t)
	open := f.startBroker(t, "allow_anonymous true\n")
	closed := f.startBroker(t, "allow_anonymous false\n")
	pwfile := filepath.Join(t.TempDir(), "passwd")
	passwd := testutil.RequireTool(t, "mosquitto_passwd")
	if out, err := exec.Command(passwd, "-c", "-b", pwfile, "alice", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	withPasswords := f.startBroker(t, "allow_anonymous false\npassword_file "+pwfile+"\n")
	certRequired := f.startBroker(t, "allow_anonymous true\nrequire_certificate true\ncafile "+f.p.rootFile+"\n")

	tests := []struct {
		name    string
		opts    Options
		verdict Verdict
		code    int // CONNACK return code, -1 for none
		want    []string
	}{
		{"anonymous allowed", Options{Address: open}, VerdictOK, 0, nil},
		{"anonymous refused", Options{Address: closed}, VerdictMQTTRefused, 5, []string{"return code 5", "not authorized"}},
		{"good password", Options{Address: withPasswords, MQTTUser: "alice", MQTTPassword: "s3cret"}, VerdictOK, 0, nil},
		{"bad password", Options{Address: withPasswords, MQTTUser: "alice", MQTTPassword: "wrong"}, VerdictMQTTRefused, 5, []string{"refused the MQTT connection"}},
		{"client certificate missing", Options{Address: certRequired}, VerdictClientCertRequired, -1, []string{"requires a client certificate", "did not list the CA names"}},
		{"client certificate given", Options{Address: certRequired, CertFile: f.clientCert, KeyFile: f.clientK}, VerdictOK, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.ServerName, o.CAFile, o.MQTT = "localhost", f.p.rootFile, true
			rep := run(t, o)
			expect(t, rep, tc.verdict, tc.want...)
			if tc.code < 0 {
				return
			}
			if rep.MQTT == nil || rep.MQTT.ReturnCode == nil || int(*rep.MQTT.ReturnCode) != tc.code {
				t.Fatalf("MQTT result %+v, want CONNACK %d", rep.MQTT, tc.code)
			}
		})
	}
}

func TestMosquittoPlainListener(t *testing.T) {
	port := testutil.FreePort(t)
	mosquittotest.Start(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port))
	p := newPKI(t, "Plain")
	rep := run(t, Options{Address: "127.0.0.1:" + strconv.Itoa(port), CAFile: p.rootFile})
	expect(t, rep, VerdictHandshakeFailure, "plain MQTT listener")
}

// TestSaveThenMosquittoPub is the manual procedure in one step: probe
// --save DIR, then the real mosquitto_pub --capath DIR connects.
func TestSaveThenMosquittoPub(t *testing.T) {
	pub := testutil.RequireTool(t, "mosquitto_pub")
	f := newBrokerFiles(t)
	addr := f.startBroker(t, "allow_anonymous true\n")
	_, port, _ := SplitAddress(addr)
	publish := func(capath string) ([]byte, error) {
		return exec.Command(pub, "-h", "localhost", "-p", port, "--capath", capath, "-t", "certinit/test", "-m", "hello").CombinedOutput()
	}
	save := filepath.Join(t.TempDir(), "trusted")
	if out, err := publish(t.TempDir()); err == nil {
		t.Fatalf("mosquitto_pub succeeded with an empty capath:\n%s", out)
	}
	rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: f.p.rootFile, SaveDir: save})
	expect(t, rep, VerdictOK)
	if len(rep.Saved) != 2 {
		t.Fatalf("saved %v, want the intermediate and the root", rep.Saved)
	}
	if out, err := publish(save); err != nil {
		t.Fatalf("mosquitto_pub --capath %s: %v\n%s", save, err, out)
	}
	// The saved directory is a working capath for the probe too.
	expect(t, run(t, Options{Address: addr, ServerName: "localhost", CAPath: save}), VerdictOK)
}

// TestCommonNameOnly backs the diagnosis of a certificate without
// subjectAltName: mosquitto_pub (OpenSSL) still accepts its common name,
// the probe (like Go and Python clients) does not.
func TestCommonNameOnly(t *testing.T) {
	pub := testutil.RequireTool(t, "mosquitto_pub")
	f := newBrokerFiles(t)
	leaf, key := f.p.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "localhost"}})
	f.fullchain = testutil.WriteFile(t, f.dir, "cn-only.pem", testutil.CertPEM(leaf, f.p.inter.Cert))
	f.key = testutil.WriteFile(t, f.dir, "cn-only-key.pem", testutil.KeyPEM(t, key))
	addr := f.startBroker(t, "allow_anonymous true\n")
	_, port, _ := SplitAddress(addr)
	out, err := exec.Command(pub, "-h", "localhost", "-p", port, "--cafile", f.p.rootFile, "-t", "t", "-m", "cn").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub refused the common name: %v\n%s", err, out)
	}
	expect(t, run(t, Options{Address: addr, ServerName: "localhost", CAFile: f.p.rootFile}), VerdictHostnameMismatch,
		"no subjectAltName", "mosquitto_pub still accept")
}
