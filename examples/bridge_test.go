package examples

import (
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/mosquittoconf"
)

// within bounds each wait of the bridge test: starting a broker, a bridge
// connecting, a message crossing, a renewal being served.
const within = 15 * time.Second

// route is one `topic PATTERN DIRECTION` line of a bridge: which way a
// message on a topic matching it crosses.
type route struct {
	pattern, topic string // topic: a concrete topic that matches pattern
	out, in        bool   // spoke to hub, hub to spoke
}

func bridgeRoutes(t *testing.T, b *mosquittoconf.Bridge, cfg *mosquittoconf.Config) []route {
	t.Helper()
	var routes []route
	for _, d := range cfg.Directives {
		if d.Name != "topic" || d.Line <= b.Decl.Line {
			continue
		}
		f := strings.Fields(d.Value)
		dir := "out"
		if len(f) > 1 {
			dir = f[1]
		}
		r := route{pattern: f[0], topic: strings.Replace(f[0], "#", "spoke-1/x", 1), out: dir != "in", in: dir != "out"}
		if strings.ContainsAny(r.topic, "+#") {
			t.Fatalf("%s: topic pattern %q: the test only knows trailing #", d.Pos(), f[0])
		}
		routes = append(routes, r)
	}
	if len(routes) == 0 {
		t.Fatalf("%s has no topic lines: nothing would cross", b.Name())
	}
	return routes
}

// letsEncryptLike is a hub certificate the way Let's Encrypt issues one:
// a root, an intermediate, a server certificate, in a certbot lineage
// (live/NAME -> archive/NAME), renewed the way certbot renews it.
type letsEncryptLike struct {
	root, inter *testutil.CA
	rootFile    string // the hub's root CA: what the spoke must trust
	chainFile   string // certbot's chain.pem: the intermediate alone
	dir         string // certbot's config directory
	n           int
}

// renew issues version n+1 of the hub's certificate for localhost and
// 127.0.0.1 (and names) and records it as the one the hub must serve.
func (le *letsEncryptLike) renew(t *testing.T, hub *host, names ...string) (live string) {
	t.Helper()
	le.n++
	leaf, key := le.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: append([]string{"localhost"}, names...), IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	hub.serial = leaf.SerialNumber
	return testutil.CertbotRenew(t, le.dir, "hub", le.n, map[string][]byte{
		"cert": testutil.CertPEM(leaf), "privkey": testutil.KeyPEM(t, key),
		"chain": testutil.CertPEM(le.inter.Cert), "fullchain": testutil.CertPEM(leaf, le.inter.Cert),
	})
}

// TestBridge runs examples/bridge for real on 127.0.0.1 with a chain
// shaped like Let's Encrypt's (root, intermediate, server certificate in
// a certbot lineage): the hub under `certinit run`, the spoke bridging to
// it over TLS with bridge_capath kept by `certinit run --trust
// ROOT --trust-store dir:`, as the README documents. Before that the test
// shows what the README warns about: without the hub's CA the bridge fails
// with the field's "unknown ca"; certbot's chain.pem alone (the
// intermediate) is refused by certinit, naming the root, and installed
// with --allow-partial-chain it fails in Mosquitto the same way, because
// OpenSSL trusts a chain only up to a root. With the root, messages cross
// in each direction the spoke's topic lines name; then the hub's
// certificate is renewed, the test waits until the hub serves the new
// serial, and messages must still cross with the same subscribers.
func TestBridge(t *testing.T) {
	mosq := testutil.RequireTool(t, "mosquitto")
	testutil.RequireTool(t, "openssl")
	bin := testutil.BuildCertinit(t)

	// Hub: certbot's lineage, and `certinit run` copying the pair to where
	// hub.conf reads it.
	hub := rebase(t, "bridge/hub.conf", testutil.ReadFile(t, "bridge/hub.conf"), nil)
	le := &letsEncryptLike{root: testutil.NewCA(t, "Hub Root X1"), dir: filepath.Join(hub.root, "letsencrypt")}
	le.inter = le.root.Intermediate(t, "Hub Issuing R3")
	config := testutil.ReadableDir(t)
	le.rootFile = testutil.WriteFile(t, config, "hub-root.pem", testutil.CertPEM(le.root.Cert))
	le.chainFile = testutil.WriteFile(t, config, "chain.pem", testutil.CertPEM(le.inter.Cert))
	hub.caFile = le.rootFile
	live := le.renew(t, hub)
	hubCfg, _, err := mosquittoconf.Load(hub.conf)
	if err != nil {
		t.Fatal(err)
	}
	certfile, ok1 := hubCfg.Listeners[0].Get("certfile")
	keyfile, ok2 := hubCfg.Listeners[0].Get("keyfile")
	if !ok1 || !ok2 || filepath.Base(certfile.Value) != "fullchain.pem" || filepath.Base(keyfile.Value) != "privkey.pem" ||
		filepath.Dir(certfile.Value) != filepath.Dir(keyfile.Value) {
		t.Fatalf("hub.conf's first listener must read fullchain.pem and privkey.pem from one directory (what certinit writes), got %q and %q",
			certfile.Value, keyfile.Value)
	}
	args := []string{"run", "--cert", filepath.Join(live, "fullchain.pem"), "--key", filepath.Join(live, "privkey.pem"),
		"--copy-to", filepath.Dir(certfile.Value)}
	if hub.user != "" {
		args = append(args, "--owner", hub.user)
	}
	hubProc := mosquittotest.StartProc(t, "hub: certinit run", bin, append(args, "--", mosq, "-c", hub.conf)...)
	hubProc.WaitOutput(t, " running", 1, within)
	hubPort, ok := hub.ports["8883"]
	if !ok {
		t.Fatalf("hub.conf has no listener on 8883, which spoke.conf's address names")
	}

	spoke := rebase(t, "bridge/spoke.conf", testutil.ReadFile(t, "bridge/spoke.conf"),
		map[string]string{"hub.example.com:8883": "127.0.0.1:" + strconv.Itoa(hubPort)})
	spokeCfg, _, err := mosquittoconf.Load(spoke.conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(spokeCfg.Bridges) != 1 {
		t.Fatalf("spoke.conf has %d bridges, want 1", len(spokeCfg.Bridges))
	}
	br := spokeCfg.Bridges[0]
	capath, ok := br.Get("bridge_capath")
	if !ok {
		t.Fatal("spoke.conf's bridge has no bridge_capath")
	}
	store := "dir:" + capath.Value

	// Without the hub's CA in bridge_capath the bridge fails the way the
	// field reports say ("unknown ca"): what the example is there to fix.
	// A broker whose bridge failed is killed at once (Mosquitto 2.0.11 may
	// spin and ignore SIGTERM then).
	if err := os.MkdirAll(capath.Value, 0o755); err != nil {
		t.Fatal(err)
	}
	bare := mosquittotest.StartProc(t, "spoke without trust", mosq, "-c", spoke.conf)
	bare.WaitOutput(t, "certificate verify failed", 1, within)
	hubProc.WaitOutput(t, "unknown ca", 1, within)
	bare.Kill(t)

	// certbot's chain.pem alone: certinit refuses it, naming the root...
	r := certinit(t, "trust", "install", "--store", store, le.chainFile)
	if r.Code != 1 || !strings.Contains(r.Stderr, le.root.Cert.Subject.String()) || !strings.Contains(r.Stderr, "--allow-partial-chain") {
		t.Fatalf("trust install of the intermediate alone:\n%s", r)
	}
	// ...and forced in, Mosquitto (OpenSSL) refuses the hub as certinit said.
	if r := certinit(t, "trust", "install", "--store", store, "--allow-partial-chain", le.chainFile); r.Code != 0 || !strings.Contains(r.Stdout, "partial chain") {
		t.Fatalf("trust install --allow-partial-chain:\n%s", r)
	}
	partial := mosquittotest.StartProc(t, "spoke with the intermediate alone", mosq, "-c", spoke.conf)
	partial.WaitOutput(t, "certificate verify failed", 1, within)
	hubProc.WaitOutput(t, "unknown ca", 2, within)
	partial.Kill(t)
	mustCertinit(t, "trust", "remove", "--store", store, le.chainFile)

	// The documented trust set: the hub's root, installed by certinit run.
	spokeProc := mosquittotest.StartProc(t, "spoke: certinit run", bin, "run", "--trust", le.rootFile, "--trust-store", store,
		"--", mosq, "-c", spoke.conf)
	spokeProc.WaitOutput(t, " running", 1, within)
	if r := certinit(t, "check", "--mosquitto-conf", spoke.conf); r.Code != 0 {
		t.Fatalf("certinit check on the spoke:\n%s", r)
	}
	clientID, _ := br.Get("remote_clientid")
	bridged := "as " + clientID.Value + " ("
	hubProc.WaitOutput(t, bridged, 1, within)

	hubEP := mosquittotest.Endpoint{Port: hubPort, CAFile: hub.caFile}
	spokeEP := mosquittotest.Endpoint{Port: spoke.ports["1883"]}
	type flow struct {
		name  string
		pub   mosquittotest.Endpoint
		sub   *mosquittotest.Subscriber
		topic string
	}
	var flows []*flow
	for _, r := range bridgeRoutes(t, br, spokeCfg) {
		if r.out {
			flows = append(flows, &flow{name: "spoke to hub", pub: spokeEP, sub: mosquittotest.Subscribe(t, hubEP, r.pattern), topic: r.topic})
		}
		if r.in {
			flows = append(flows, &flow{name: "hub to spoke", pub: hubEP, sub: mosquittotest.Subscribe(t, spokeEP, r.pattern), topic: r.topic})
		}
	}
	for _, f := range flows {
		m := mosquittotest.Deliver(t, f.pub, f.sub, f.topic, "before", within)
		t.Logf("%s: %s %s crossed the bridge", f.name, f.topic, m)
	}

	// Renew the hub's certificate as certbot does: a new version of the
	// lineage, the live links swapped one by one.
	before := hub.serial
	le.renew(t, hub, "hub.localhost")
	if hub.serial.Cmp(before) == 0 {
		t.Fatal("the renewal kept the serial")
	}
	took := mosquittotest.WaitServed(t, within, hub.serial, func() (*big.Int, error) {
		return mosquittotest.ServedSerial(t, hubPort, hub.caFile, "127.0.0.1")
	})
	t.Logf("hub serves the renewed serial %x %v after the files changed", hub.serial, took.Round(time.Millisecond))

	for _, f := range flows {
		m := mosquittotest.Deliver(t, f.pub, f.sub, f.topic, "after", within)
		t.Logf("%s: %s %s crossed the bridge after the renewal", f.name, f.topic, m)
		if n := f.sub.Connects(); n != 1 {
			t.Errorf("%s: the subscriber connected %d times; the reload should keep clients connected", f.name, n)
		}
	}
	if n := strings.Count(hubProc.Output(), bridged); n == 1 {
		t.Log("the bridge stayed connected through the reload")
	} else {
		t.Logf("the bridge reconnected (%d connections)", n)
	}

	// A new connection made the spoke's way (its capath) trusts the renewed
	// certificate, so the bridge will reconnect after any restart.
	r = certinit(t, "probe", "127.0.0.1:"+strconv.Itoa(hubPort), "--capath", capath.Value, "--mqtt")
	if r.Code != 0 || !strings.Contains(r.Stdout, "verdict: ok") {
		t.Fatalf("certinit probe of the renewed hub through the spoke's capath:\n%s", r)
	}
}
