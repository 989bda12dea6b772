package runner

import (
	"fmt"
	"math/big"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// Tests that start COMMAND run the real certinit binary: in the test
// process the supervisor's reaper would collect the exit status of every
// program the test runs (openssl, the Mosquitto clients).

// startCertinit runs `certinit --log-level debug run ARGS` in the
// background (testutil.StartCertinit); no child it started may outlive it.
func startCertinit(t *testing.T, args ...string) *testutil.Certinit {
	t.Helper()
	var c *testutil.Certinit
	t.Cleanup(func() { // registered first, so it runs after certinit was stopped
		if c == nil {
			return
		}
		for _, pid := range c.ChildPIDs() {
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("child pid %d still running after certinit exited", pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	c = testutil.StartCertinit(t, false, append([]string{"--log-level", "debug", "run"}, args...)...)
	return c
}

// decision matches the one record of each decision on a change: a
// reload, a restart or none needed, with the rule that decided.
var decision = testutil.All(testutil.HasKey("rule"), testutil.HasKey("changed"))

// waitOutput polls the output until it holds n occurrences of text: for
// what COMMAND (Mosquitto) prints.
func waitOutput(t *testing.T, c *testutil.Certinit, text string, n int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Count(c.Out.String(), text) >= n, fmt.Sprintf("no %d× %q in the output", n, text)
	})
}

// broker is a real Mosquitto started by a real certinit run on 127.0.0.1,
// with certificates from a test CA in a temporary directory.
type broker struct {
	*testutil.Certinit // set by start
	t                  *testing.T
	dir                string
	port               int
	ca                 *testutil.CA
	caFile             string
	conf               string
}

func newBroker(t *testing.T) *broker {
	testutil.RequireTool(t, "mosquitto")
	testutil.RequireTool(t, "openssl")
	dir := testutil.ReadableDir(t) // Mosquitto may drop to its own user
	b := &broker{t: t, dir: dir, port: testutil.FreePort(t), ca: testutil.NewCA(t, "certinit run test CA")}
	b.caFile = testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(b.ca.Cert))
	return b
}

// issue makes a server pair for localhost (o shapes the certificate
// further) and returns it with its serial.
func (b *broker) issue(o testutil.CertOpts) (certPEM, keyPEM []byte, serial *big.Int) {
	l := testutil.Localhost()
	o.Subject, o.DNSNames, o.IPs = l.Subject, l.DNSNames, l.IPs
	c, k := b.ca.Issue(b.t, o)
	return testutil.CertPEM(c), testutil.KeyPEM(b.t, k), c.SerialNumber
}

// writeConf writes mosquitto.conf for a TLS listener on the free port.
// userRoot keeps Mosquitto from dropping to user mosquitto when the tests
// run as root, for tests whose subject is not file ownership.
func (b *broker) writeConf(certfile, keyfile string, userRoot bool, extra ...string) {
	lines := []string{
		fmt.Sprintf("listener %d 127.0.0.1", b.port),
		"certfile " + certfile,
		"keyfile " + keyfile,
		"allow_anonymous true",
		"persistence false",
	}
	if userRoot {
		lines = append(lines, "user root")
	}
	lines = append(lines, extra...)
	b.conf = testutil.WriteFile(b.t, b.dir, "mosquitto.conf", []byte(strings.Join(lines, "\n")+"\n"))
}

// start runs certinit run ARGS -- mosquitto -c CONF.
func (b *broker) start(args ...string) {
	b.t.Helper()
	mosq := testutil.RequireTool(b.t, "mosquitto")
	b.Certinit = startCertinit(b.t, append(args, "--", mosq, "-c", b.conf)...)
}

// served returns the serial of the certificate the broker presents now,
// as openssl s_client sees it, verifying the chain to the test CA.
func (b *broker) served() (*big.Int, error) {
	return mosquittotest.ServedSerial(b.t, b.port, b.caFile, "localhost")
}

// waitServed waits until the broker serves serial (openssl s_client) and
// returns how long that took; it fails the test after within.
func (b *broker) waitServed(serial *big.Int, within time.Duration) time.Duration {
	b.t.Helper()
	return mosquittotest.WaitServed(b.t, within, serial, b.served)
}

// waitServing polls until the broker serves a certificate that verifies
// to b.caFile and returns its serial.
func (b *broker) waitServing(within time.Duration) *big.Int {
	b.t.Helper()
	var serial *big.Int
	testutil.Eventually(b.t, within, func() (bool, string) {
		s, err := b.served()
		if err != nil {
			return false, err.Error()
		}
		serial = s
		return true, ""
	})
	return serial
}

// endpoint is the broker's listener as the Mosquitto clients reach it.
func (b *broker) endpoint() mosquittotest.Endpoint {
	return mosquittotest.Endpoint{Port: b.port, CAFile: b.caFile}
}

func (b *broker) publish(msg string) {
	b.t.Helper()
	if err := mosquittotest.Publish(b.t, b.endpoint(), "certinit/test", msg); err != nil {
		b.t.Fatal(err)
	}
}

// subscribe connects a mosquitto_sub that stays connected for the test
// and waits until a first message reaches it.
func (b *broker) subscribe() *mosquittotest.Subscriber {
	b.t.Helper()
	sub := mosquittotest.Subscribe(b.t, b.endpoint(), "certinit/test")
	b.publish("before")
	waitGot(b.t, sub, "before")
	return sub
}

// waitGot waits until sub has received msg.
func waitGot(t *testing.T, sub *mosquittotest.Subscriber, msg string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		return sub.Got("certinit/test", msg), "no message " + msg
	})
}
