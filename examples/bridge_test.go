package examples

import (
	"math/big"
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

// TestBridge runs examples/bridge for real on 127.0.0.1: the hub under
// `certinit run` with a certificate from the local issuer (standing in for
// Let's Encrypt) copied where the broker reads it, the spoke bridging to it
// over TLS with bridge_capath filled by `certinit trust install --store
// dir:` (first shown to fail without it, with the field's "unknown ca").
// Messages cross in each direction the spoke's topic lines name; then
// the hub's certificate is renewed, the test waits until the hub serves the
// new serial, and messages must still cross with the same subscribers.
func TestBridge(t *testing.T) {
	mosq := testutil.RequireTool(t, "mosquitto")
	testutil.RequireTool(t, "openssl")
	bin := testutil.BuildCertinit(t)

	// Hub: certinit obtains (here: the local issuer) into a live directory
	// and `certinit run` copies the pair to where hub.conf reads it.
	hub := rebase(t, "bridge/hub.conf", testutil.ReadFile(t, "bridge/hub.conf"), nil)
	live := hub.issue(t)
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

	// Spoke: its bridge_capath holds the hub's CA, installed by certinit.
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

	// Without the hub's CA in bridge_capath the bridge fails the way the
	// field reports say ("unknown ca"): what the example is there to fix.
	if err := os.MkdirAll(capath.Value, 0o755); err != nil {
		t.Fatal(err)
	}
	bare := mosquittotest.StartProc(t, "spoke without trust", mosq, "-c", spoke.conf)
	bare.WaitOutput(t, "certificate verify failed", 1, within)
	hubProc.WaitOutput(t, "unknown ca", 1, within)
	bare.Stop(t)

	mustCertinit(t, "trust", "install", "--store", "dir:"+capath.Value, hub.caFile)
	if r := certinit(t, "check", "--mosquitto-conf", spoke.conf); r.Code != 0 {
		t.Fatalf("certinit check on the spoke:\n%s", r)
	}
	spokeProc := mosquittotest.StartProc(t, "spoke: certinit run", bin, "run", "--", mosq, "-c", spoke.conf)
	spokeProc.WaitOutput(t, " running", 1, within)
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

	// Renew the hub's certificate: a second issuance from the same local
	// CA. (The local issuer re-issues only inside its renewal window or when
	// the names change, so the renewal adds a name.)
	before := hub.serial
	hub.issue(t, "hub.localhost")
	if hub.serial.Cmp(before) == 0 {
		t.Fatal("the second issuance kept the serial")
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
	r := certinit(t, "probe", "127.0.0.1:"+strconv.Itoa(hubPort), "--capath", capath.Value, "--mqtt")
	if r.Code != 0 || !strings.Contains(r.Stdout, "verdict: ok") {
		t.Fatalf("certinit probe of the renewed hub through the spoke's capath:\n%s", r)
	}
}
