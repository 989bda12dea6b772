package examples

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/bindtest"
	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// TestACMEContainers runs, for real, every example container in which
// certinit obtains the broker's certificate itself (--acme-domain) and
// starts mosquitto (the mosquitto-tls README's `docker run`, the
// docker-compose service): its settings as the example gives them, with
// Pebble and its DNS server (every name is 127.0.0.1) standing in for Let's
// Encrypt and the Internet (see environment for the few overrides). The
// broker must start under `certinit run`, serve Pebble's certificate for
// the example's name on every TLS listener (openssl s_client, verified
// against Pebble's root: issued by Pebble's intermediate), pass its health
// check, and carry a message between mosquitto_pub and mosquitto_sub that
// trust Pebble's root and nothing else. Then the container is re-created
// (everything not on a volume is lost): certinit must start the broker on
// the certificate its cache volume kept, without contacting the CA.
func TestACMEContainers(t *testing.T) {
	eachBrokerContainer(t, "with --acme-domain", func(b brokerContainer) bool { return b.s["acme-domain"] != "" }, runACMEContainer)
}

func runACMEContainer(t *testing.T, b brokerContainer) {
	start := time.Now()
	r := newBrokerRun(t, b.c, b.inv, b.s)
	var popts pebbletest.Options
	if b.s["acme-dns-rfc2136-server"] != "" {
		r.bind = startExampleDNS(t, b.c, b.s)
		popts.DNSServer = r.bind.Addr
	}
	p := pebbletest.Start(t, popts)
	r.pebble = p
	r.start(t)
	t.Logf("broker running on Pebble's certificate %v after Pebble started", time.Since(start).Round(time.Millisecond))

	name := strings.Split(b.s["acme-domain"], ",")[0]
	if r.bind != nil {
		for _, d := range strings.Split(b.s["acme-domain"], ",") {
			if vals := r.bind.TXT(t, "_acme-challenge."+strings.TrimPrefix(d, "*.")); len(vals) > 0 {
				t.Errorf("DNS-01 left TXT records behind for %s: %v", d, vals)
			}
		}
	}
	root := testutil.WriteFile(t, t.TempDir(), "pebble-root.pem", p.RootPEM(t))
	intermediate := p.Intermediate(t)
	written, err := pemfile.ReadCertificates(filepath.Join(r.root, certinitWrites(b.s).cert))
	if err != nil {
		t.Fatal(err)
	}
	ports := r.tlsPorts(t)
	for _, port := range ports {
		leaf := servedLeaf(t, port, root, name)
		if leaf.Issuer.String() != intermediate.Subject.String() || leaf.CheckSignatureFrom(intermediate) != nil {
			t.Errorf("port %d serves a certificate issued by %q, not by Pebble's intermediate %q", port, leaf.Issuer, intermediate.Subject)
		}
		if !leaf.Equal(written[0]) {
			t.Errorf("port %d serves serial %x, but certinit wrote serial %x", port, leaf.SerialNumber, written[0].SerialNumber)
		}
		t.Logf("port %d serves %s, serial %x, issuer %s", port, name, leaf.SerialNumber, leaf.Issuer)
	}
	r.checkCopies(t)
	r.probes(t)
	mqttRoundTrip(t, ports[0], root, name)
	for _, tr := range r.traps {
		if n := tr.n.Load(); n > 0 {
			t.Errorf("the CA tried to validate a challenge on the host's port %d (%d connections), which the container does not publish: "+
				"a failed validation, and Let's Encrypt allows 5 an hour per name; disable that challenge listener or publish the port", tr.public, n)
		}
	}

	// The container is re-created (docker compose up after an image
	// update): only its volumes survive. The cache volume holds the
	// certificate, so nobody is asked for a new one.
	conns := p.Connections()
	r.proc.Stop(t)
	r.recreate(t)
	r.start(t)
	if n := p.Connections() - conns; n != 0 {
		t.Errorf("the re-created container connected %d times to the CA: its certificate cache (--acme-cache) should be on a volume", n)
	}
	if leaf := servedLeaf(t, ports[0], root, name); !leaf.Equal(written[0]) {
		t.Errorf("the re-created container serves serial %x, want the cached %x", leaf.SerialNumber, written[0].SerialNumber)
	}
	t.Logf("re-created container serves the cached certificate without contacting the CA")
}

// recreate removes from the container's root what certinit wrote outside
// its volumes and bind mounts: a new container starts from the image.
func (r *containerRun) recreate(t *testing.T) {
	t.Helper()
	dirs := []string{r.s["copy-to"], r.s["acme-out"], r.s["acme-cache"]}
	if r.s["acme-cache"] == "" && r.s["acme-out"] != "" {
		dirs = append(dirs, r.s["acme-out"]+".cache") // the default
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if m, _, _ := r.c.locate(d); m != nil {
			t.Logf("kept: %s (on %s)", d, m.target)
			continue
		}
		if err := os.RemoveAll(filepath.Join(r.root, d)); err != nil {
			t.Fatal(err)
		}
	}
}

// servedLeaf returns the certificate the TLS listener on 127.0.0.1:port
// presents for name, verified against caFile and the name
// (mosquittotest.ServedLeaf), failing the test if that fails.
func servedLeaf(t *testing.T, port int, caFile, name string) *x509.Certificate {
	t.Helper()
	leaf, err := mosquittotest.ServedLeaf(t, port, caFile, name)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// mqttRoundTrip publishes a retained message with mosquitto_pub and reads
// it back with mosquitto_sub, both over TLS to name trusting caFile alone,
// as a client on the Internet connects: by name, checking it. As root, the
// name resolves to 127.0.0.1 through a private /etc/hosts (unshare);
// otherwise the clients connect to 127.0.0.1 with --insecure, which skips
// only the name check (servedLeaf checked the name).
func mqttRoundTrip(t *testing.T, port int, caFile, name string) {
	t.Helper()
	topic := "certinit/examples/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	msg := "hello over " + name
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	common := []string{"-p", strconv.Itoa(port), "--cafile", caFile, "-q", "1", "-t", topic}
	pub := mqttClient(ctx, t, "mosquitto_pub", name, append(common, "-r", "-m", msg)...)
	if _, err := pub.Output(); err != nil {
		t.Fatalf("mosquitto_pub to %s:%d: %v", name, port, exitText(err))
	}
	sub := mqttClient(ctx, t, "mosquitto_sub", name, append(common, "-C", "1", "-W", "10")...)
	out, err := sub.Output()
	if err != nil || strings.TrimSpace(string(out)) != msg {
		t.Fatalf("mosquitto_sub from %s:%d: got %q, %v", name, port, out, exitText(err))
	}
	t.Logf("mosquitto_pub and mosquitto_sub to %s:%d with --cafile Pebble's root: %q delivered", name, port, msg)
}

// mqttClient returns the command that runs a Mosquitto client against
// name (see mqttRoundTrip).
func mqttClient(ctx context.Context, t *testing.T, tool, name string, args ...string) *exec.Cmd {
	t.Helper()
	bin := testutil.RequireTool(t, tool)
	if os.Geteuid() != 0 {
		t.Logf("not root: %s connects to 127.0.0.1 with --insecure (no name check)", tool)
		return exec.CommandContext(ctx, bin, append([]string{"-h", "127.0.0.1", "--insecure"}, args...)...)
	}
	unshare := testutil.RequireTool(t, "unshare")
	hosts := testutil.WriteFile(t, t.TempDir(), "hosts", []byte("127.0.0.1 localhost "+name+"\n"))
	script := `mount --bind "$0" /etc/hosts && exec "$@"`
	return exec.CommandContext(ctx, unshare, append([]string{"--mount", "--", "sh", "-c", script, hosts, bin, "-h", name}, args...)...)
}

func exitText(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return fmt.Sprintf("%v: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	return fmt.Sprint(err)
}

// trap listens where the CA validates a challenge type that no listener of
// the container can answer, because the container does not publish its
// port on the host port the CA connects to, and counts the CA's attempts,
// each a failed validation. It closes every connection, as a port nothing
// is published on refuses it.
type trap struct {
	public int // the host port: 80 or 443
	ln     net.Listener
	n      atomic.Int64
}

// trap sets one up on Pebble's validation port for public, once.
func (r *containerRun) trap(t *testing.T, public, pebblePort int) {
	t.Helper()
	if r.traps[pebblePort] != nil {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(pebblePort))
	if err != nil {
		t.Fatalf("listening where Pebble validates for port %d: %v", public, err)
	}
	tr := &trap{public: public, ln: ln}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	if r.traps == nil {
		r.traps = map[int]*trap{}
	}
	r.traps[pebblePort] = tr
}

// exampleKeyName is the name of the TSIG key in the examples' tsig.key,
// which their READMEs grant on the DNS server.
const exampleKeyName = "certinit-dns"

// startExampleDNS starts the DNS server a DNS-01 example updates: a real
// BIND serving the zone of each --acme-domain (the name without its first
// label) that takes updates signed with the example's own TSIG key file,
// through which Pebble resolves and validates.
func startExampleDNS(t *testing.T, c *container, s map[string]string) *bindtest.Server {
	t.Helper()
	m, _, _ := c.locate(s["acme-dns-rfc2136-tsig"])
	if m == nil || m.volume != nil {
		t.Fatalf("%s: --acme-dns-rfc2136-tsig %s is not a file bind-mounted from the example", c.where, s["acme-dns-rfc2136-tsig"])
	}
	var zones []string
	for _, d := range strings.Split(s["acme-domain"], ",") {
		_, zone, _ := strings.Cut(strings.TrimPrefix(d, "*."), ".")
		if !slices.Contains(zones, zone) {
			zones = append(zones, zone)
		}
	}
	b := bindtest.Start(t, bindtest.Options{Zones: zones, KeyFile: m.bind, KeyName: exampleKeyName})
	t.Logf("here: BIND on %s serves %v with the example's %s, standing in for %s", b.Addr, zones, m.bind, s["acme-dns-rfc2136-server"])
	return b
}
