package mosquittotest

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// clientTimeout bounds one mosquitto_pub or openssl s_client run.
const clientTimeout = 10 * time.Second

// crossTime is how long Deliver lets a message cross a route before it
// sends the next one.
const crossTime = 500 * time.Millisecond

// Endpoint is a broker listener on 127.0.0.1 as the real clients reach it:
// plain MQTT, or TLS verified against CAFile or CAPath, with a client
// certificate when CertFile and KeyFile are set.
type Endpoint struct {
	Port   int
	CAFile string
	CAPath string

	CertFile, KeyFile string
}

func (e Endpoint) args() []string {
	a := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(e.Port)}
	if e.CAFile != "" {
		a = append(a, "--cafile", e.CAFile)
	}
	if e.CAPath != "" {
		a = append(a, "--capath", e.CAPath)
	}
	if e.CertFile != "" {
		a = append(a, "--cert", e.CertFile, "--key", e.KeyFile)
	}
	return a
}

// Publish sends one QoS 1 message with mosquitto_pub.
func Publish(t testing.TB, e Endpoint, topic, msg string) error {
	t.Helper()
	bin := testutil.RequireTool(t, "mosquitto_pub")
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	args := append(e.args(), "-q", "1", "-t", topic, "-m", msg)
	if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mosquitto_pub to port %d: %v: %s", e.Port, err, bytes.TrimSpace(out))
	}
	return nil
}

// Subscriber is a mosquitto_sub that stays connected for the test, printing
// "TOPIC PAYLOAD" per message and, with -d, every CONNECT it sends (it would
// reconnect silently otherwise).
type Subscriber struct {
	*Proc
}

// Subscribe connects mosquitto_sub to e for topic (QoS 1) and returns once
// the broker acknowledged the subscription.
func Subscribe(t testing.TB, e Endpoint, topic string) *Subscriber {
	t.Helper()
	sub := testutil.RequireTool(t, "mosquitto_sub")
	stdbuf := testutil.RequireTool(t, "stdbuf")
	// Line-buffered, so lines arrive as they happen, not at exit.
	args := append([]string{"-oL", sub, "-d", "-v", "-q", "1"}, e.args()...)
	args = append(args, "-t", topic)
	s := &Subscriber{StartProc(t, "mosquitto_sub "+topic, stdbuf, args...)}
	s.WaitOutput(t, "received SUBACK", 1, clientTimeout)
	return s
}

// Got reports whether the subscriber has received msg on topic.
func (s *Subscriber) Got(topic, msg string) bool {
	return strings.Contains(s.Output(), "\n"+topic+" "+msg+"\n")
}

// Connects counts the CONNECT packets the subscriber has sent.
func (s *Subscriber) Connects() int { return strings.Count(s.Output(), "sending CONNECT") }

// Deliver publishes numbered messages to pub on topic until sub has
// received one of them, retrying for a route that is still being set up (a
// bridge that has not connected yet); it returns the message that arrived.
func Deliver(t testing.TB, pub Endpoint, sub *Subscriber, topic, prefix string, within time.Duration) string {
	t.Helper()
	var sent []string
	var lastSent time.Time
	testutil.Eventually(t, within, func() (bool, string) {
		for _, m := range sent {
			if sub.Got(topic, m) {
				return true, ""
			}
		}
		why := fmt.Sprintf("none of %d messages on %s arrived", len(sent), topic)
		if time.Since(lastSent) < crossTime {
			return false, why // give the last message a moment to cross
		}
		m := fmt.Sprintf("%s-%d", prefix, len(sent))
		if err := Publish(t, pub, topic, m); err != nil {
			return false, err.Error()
		}
		sent, lastSent = append(sent, m), time.Now()
		return false, why
	})
	for _, m := range sent {
		if sub.Got(topic, m) {
			return m
		}
	}
	return ""
}

// ServedLeaf returns the certificate a TLS listener on 127.0.0.1:port
// presents, as openssl s_client sees it with verification against caFile
// for serverName, a DNS name or an IP address (an error if that fails).
// extra are more s_client options (-sigalgs for a client that offers only
// some key types).
func ServedLeaf(t testing.TB, port int, caFile, serverName string, extra ...string) (*x509.Certificate, error) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	args := []string{"s_client", "-connect", "127.0.0.1:" + strconv.Itoa(port), "-CAfile", caFile, "-verify_return_error"}
	if net.ParseIP(serverName) != nil {
		args = append(args, "-verify_ip", serverName)
	} else {
		args = append(args, "-servername", serverName, "-verify_hostname", serverName)
	}
	cmd := exec.CommandContext(ctx, openssl, append(args, extra...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		what := strings.Join(append([]string{"openssl s_client to port", strconv.Itoa(port)}, extra...), " ")
		return nil, fmt.Errorf("%s: %v: %s", what, err, testutil.LastLines(errOut.String(), 1))
	}
	certs, err := pemfile.Certificates(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("openssl s_client output: %w", err)
	}
	return certs[0], nil
}

// ServedSerial is the serial of ServedLeaf's certificate.
func ServedSerial(t testing.TB, port int, caFile, serverName string, extra ...string) (*big.Int, error) {
	t.Helper()
	leaf, err := ServedLeaf(t, port, caFile, serverName, extra...)
	if err != nil {
		return nil, err
	}
	return leaf.SerialNumber, nil
}

// WaitServed waits until served (ServedSerial, say) reports serial and
// returns how long that took; it fails the test after within, with what
// served last said.
func WaitServed(t testing.TB, within time.Duration, serial *big.Int, served func() (*big.Int, error)) time.Duration {
	t.Helper()
	start := time.Now()
	testutil.Eventually(t, within, func() (bool, string) {
		got, err := served()
		if err != nil {
			return false, fmt.Sprintf("serial %x not served: %v", serial, err)
		}
		return got.Cmp(serial) == 0, fmt.Sprintf("serving serial %x, not %x", got, serial)
	})
	return time.Since(start)
}
