package examples

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/bindtest"
	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/mosquittoconf"
)

// How an example container runs here: its settings turned into CERTINIT_*
// variables for a temporary root, its command started, and what it wrote
// checked. TestBrokerContainers, TestACMEContainers and the init
// containers of runInitContainers use it.

// settingRule says how one certinit setting of an example container is
// applied when the container runs here.
type settingRule int

const (
	asGiven   settingRule = iota // the example's value
	inRoot                       // a path: moved under the container's root
	ownerRule                    // --owner: applied as root only (otherwise mosquitto runs as us and the files stay ours)
	acmeCA                       // which ACME CA: Pebble here (environment)
	challenge                    // a challenge listener address (environment)
	dnsServer                    // a DNS server for DNS-01: BIND here (environment)
	mounted                      // a file bind-mounted from the example: that file
	listening                    // --metrics-addr: a free port on 127.0.0.1 here (environment)
)

// settingRules covers every setting the examples use; a setting missing
// here fails the run test rather than being dropped without a word.
var settingRules = map[string]settingRule{
	"cert": inRoot, "key": inRoot, "chain": inRoot, "copy-to": inRoot, "trust": inRoot, "rehash": inRoot,
	"watch": inRoot, "restart-on": inRoot, "root": inRoot, "acme-out": inRoot, "acme-cache": inRoot,
	"owner": ownerRule,
	"wait":  asGiven, "log-format": asGiven, "log-level": asGiven, "reload-signal": asGiven, "debounce": asGiven,
	"poll": asGiven, "stop-timeout": asGiven, "allow-non-ca": asGiven,
	// dir:PATH and auto's OS tree are inside --root, which environment sets.
	"trust-store": asGiven,
	"acme-domain": asGiven, "acme-email": asGiven, "acme-key-type": asGiven, "acme-renew-before": asGiven,
	"acme-directory": acmeCA, "acme-staging": acmeCA, "acme-ca": acmeCA,
	"acme-http-addr": challenge, "acme-tls-addr": challenge,
	"acme-dns-rfc2136-server": dnsServer, "acme-dns-resolver": dnsServer, "acme-dns-rfc2136-tsig": mounted,
	"acme-profile": asGiven, "acme-dns-timeout": asGiven,
	"metrics-addr": listening, "ready-min-validity": asGiven, "mosquitto-conf": inRoot,
}

// containerRun is one example container run here: its file system under a
// temporary root, its certinit settings as CERTINIT_* variables, and (for
// a broker container) mosquitto with its configuration rewritten by rebase.
type containerRun struct {
	c      *container
	inv    *invocation
	s      map[string]string
	root   string
	h      *host              // the broker's configuration; nil for an init container
	pebble *pebbletest.Server // the ACME CA, for --acme-domain
	bind   *bindtest.Server   // the DNS server, for --acme-dns-rfc2136-server
	traps  map[int]*trap      // by Pebble's validation port, those no listener of the container answers
	proc   *mosquittotest.Proc
	// metricsAddr is where certinit's --metrics-addr listens here.
	metricsAddr string
}

// newBrokerRun prepares a container that runs mosquitto under certinit.
func newBrokerRun(t *testing.T, c *container, inv *invocation, s map[string]string) *containerRun {
	t.Helper()
	confPath := inv.child[slices.Index(inv.child, "-c")+1]
	data, ok := c.content(t, confPath)
	if !ok {
		t.Fatalf("%s: mosquitto -c %s: not found", c.where, confPath)
	}
	h := rebase(t, c.where+": "+confPath, data, nil)
	h.dataDirs(t)
	return &containerRun{c: c, inv: inv, s: s, root: h.root, h: h}
}

func envName(flag string) string {
	return "CERTINIT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// environment returns the container's settings as the CERTINIT_* variables
// certinit reads, changing only what must differ on this machine, each
// change logged:
//   - paths move under the container's root;
//   - --root is the container's root whenever --trust or --trust-store is
//     set, so a dir: store and the OS store that auto finds are the
//     container's, never this machine's own;
//   - the ACME CA is Pebble, whatever the example names (Let's Encrypt by
//     default): its directory URL and the CA of its HTTPS (--acme-ca);
//   - each challenge listener (default :80 and :443) listens where Pebble
//     validates when the container publishes its port on the host port
//     the CA connects to (80 for HTTP-01, 443 for TLS-ALPN-01), and on a
//     free port nothing validates otherwise: the CA cannot reach a port the
//     container does not publish.
func (r *containerRun) environment(t *testing.T) []string {
	t.Helper()
	var env []string
	set := func(flag, v string) { env = append(env, envName(flag)+"="+v) }
	for _, flag := range sortedKeys(r.s) {
		v := r.s[flag]
		rule, ok := settingRules[flag]
		switch {
		case !ok:
			t.Fatalf("%s: the test does not know how to apply --%s %s here: add it to settingRules", r.c.where, flag, v)
		case rule == inRoot:
			set(flag, filepath.Join(r.root, v))
		case rule == ownerRule && os.Geteuid() != 0:
			t.Logf("not applied here (not root: mosquitto runs as us, the files stay ours): --%s %s", flag, v)
		case rule == asGiven || rule == ownerRule:
			set(flag, v)
		case rule == listening:
			r.metricsAddr = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
			set(flag, r.metricsAddr)
			t.Logf("here: --%s %s (the container's %s)", flag, r.metricsAddr, v)
		case rule == mounted:
			m, _, _ := r.c.locate(v)
			if m == nil || m.volume != nil {
				t.Fatalf("%s: --%s %s is not a file bind-mounted from the example", r.c.where, flag, v)
			}
			set(flag, m.bind)
		}
	}
	if _, store := r.s["trust-store"]; (store || r.s["trust"] != "") && r.s["root"] == "" {
		set("root", r.root)
		t.Logf("here: --root %s, the container's root, holds the trust store", r.root)
	}
	if r.s["acme-domain"] == "" {
		return env
	}
	if r.pebble == nil {
		t.Fatalf("%s: certinit orders a certificate (--acme-domain), but the test started no ACME CA", r.c.where)
	}
	for _, f := range []string{"acme-directory", "acme-staging", "acme-ca"} {
		if v, ok := r.s[f]; ok {
			t.Logf("not applied here (Pebble is the CA): --%s %s", f, v)
		}
	}
	if r.s["acme-dns-rfc2136-server"] != "" {
		// This machine has no resolver: the test's BIND is asked too.
		set("acme-dns-rfc2136-server", r.bind.Addr)
		set("acme-dns-resolver", r.bind.Addr)
		t.Logf("here: --acme-dns-rfc2136-server %s --acme-dns-resolver %s (BIND standing in for %s)",
			r.bind.Addr, r.bind.Addr, r.s["acme-dns-rfc2136-server"])
	}
	set("acme-directory", r.pebble.DirectoryURL)
	set("acme-ca", r.pebble.CAFile)
	t.Logf("here: --acme-directory %s --acme-ca %s (Pebble standing in for the example's CA)", r.pebble.DirectoryURL, r.pebble.CAFile)
	pebblePorts := map[int]int{80: r.pebble.HTTPPort, 443: r.pebble.TLSPort}
	for _, l := range challengeListeners(r.s) {
		set(l.flag, r.challengeAddr(t, l, pebblePorts[l.public]))
	}
	return env
}

// challengeAddr maps a challenge listener of the container to this
// machine (see environment): to Pebble's port for l.public, or to a free
// port, with a trap on Pebble's port counting what the CA tries there.
func (r *containerRun) challengeAddr(t *testing.T, l challengeListener, pebblePort int) string {
	t.Helper()
	if l.addr == "" {
		r.trap(t, l.public, pebblePort)
		t.Logf("as given: --%s \"\" (disabled; what the CA tries on the host's %d is counted)", l.flag, l.public)
		return ""
	}
	port, err := l.port()
	if err != nil {
		t.Fatalf("%s: --%s %q: want [HOST]:PORT", r.c.where, l.flag, l.addr)
	}
	here := "127.0.0.1:" + strconv.Itoa(pebblePort)
	why := fmt.Sprintf("published on %d, where the CA validates", l.public)
	if r.c.published[port] != l.public {
		here = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
		why = fmt.Sprintf("not published on %d: the CA cannot reach it", l.public)
		r.trap(t, l.public, pebblePort)
	}
	t.Logf("here: --%s %s (the container's %s, %s)", l.flag, here, l.addr, why)
	return here
}

// start runs the container's command, certinit run with mosquitto, and
// waits until the broker is running.
func (r *containerRun) start(t *testing.T) {
	t.Helper()
	env := r.environment(t)
	t.Logf("certinit run with %s", strings.Join(env, " "))
	child := slices.Clone(r.inv.child)
	child[0] = testutil.RequireTool(t, "mosquitto")
	child[slices.Index(child, "-c")+1] = r.h.conf
	r.proc = mosquittotest.StartProcEnv(t, "certinit run", env, testutil.BuildCertinit(t), append([]string{"run", "--"}, child...)...)
	r.proc.WaitOutput(t, " running", 1, within)
}

// tlsPorts are the ports of the broker's TLS listeners here.
func (r *containerRun) tlsPorts(t *testing.T) []int {
	t.Helper()
	cfg, _, err := mosquittoconf.Load(r.h.conf)
	if err != nil {
		t.Fatal(err)
	}
	var ports []int
	for _, l := range cfg.Listeners {
		if _, tls := l.Get("certfile"); tls {
			port, _ := strconv.Atoi(strings.Fields(l.Decl.Value)[0])
			ports = append(ports, port)
		}
	}
	if len(ports) == 0 {
		t.Fatalf("%s: the broker has no TLS listener", r.c.where)
	}
	return ports
}

// probes runs the container's certinit health checks and readiness probes,
// which must pass: commands, and GETs of certinit's --metrics-addr
// listener, which must answer 200 (once the broker serves: nothing
// announces that).
func (r *containerRun) probes(t *testing.T) {
	t.Helper()
	for _, pr := range r.c.httpProbes {
		url := "http://" + r.metricsAddr + pr.path
		testutil.Eventually(t, 30*time.Second, func() (bool, string) {
			resp, err := http.Get(url)
			if err != nil {
				return false, fmt.Sprintf("probe GET %s: %v", url, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode == http.StatusOK, fmt.Sprintf("probe GET %s: %s %s", url, resp.Status, body)
		})
		t.Logf("probe passes: GET %s", pr.path)
	}
	for _, pr := range r.c.probes {
		if len(pr) == 0 || !isCertinit(pr[0]) {
			continue
		}
		args := slices.Clone(pr[1:])
		for i, a := range args {
			if strings.HasPrefix(a, "/") {
				args[i] = filepath.Join(r.root, a)
			}
		}
		if res := certinit(t, args...); res.Code != 0 {
			t.Errorf("health check %q: %s", pr, res)
		} else {
			t.Logf("health check passes: %s", strings.Join(pr, " "))
		}
	}
}

// checkCopies requires the files certinit wrote for the broker (--copy-to,
// --acme-out) to have the modes of docs/run.md and, as root, the owner the
// container asks for: the key 0600 (0640 with a group), certificates 0644.
func (r *containerRun) checkCopies(t *testing.T) {
	t.Helper()
	for _, flag := range []string{"copy-to", "acme-out"} {
		dir := r.s[flag]
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(r.root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			want := os.FileMode(0o644)
			if e.Name() == path.Base(certinitWrites(r.s).key) {
				want = 0o600
				if strings.Contains(r.s["owner"], ":") {
					want = 0o640
				}
			}
			checkFile(t, filepath.Join(r.root, dir, e.Name()), want, r.s["owner"])
		}
	}
}

// checkFile requires path (links followed) to have mode want and, as root,
// the owner spec (USER[:GROUP]; "" for the user running the test).
func checkFile(t *testing.T, path string, want os.FileMode, spec string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
	}
	if os.Geteuid() != 0 {
		return
	}
	uid, gid := os.Geteuid(), -1
	if u, g, _ := strings.Cut(spec, ":"); u != "" {
		uid = lookupID(t, u, false)
		if g != "" {
			gid = lookupID(t, g, true)
		}
	}
	if uidOf(fi) != uid || (gid >= 0 && gidOf(fi) != gid) {
		t.Errorf("%s: owned by %d:%d, want %q (uid %d)", path, uidOf(fi), gidOf(fi), spec, uid)
	}
}

func uidOf(fi os.FileInfo) int { return int(fi.Sys().(*syscall.Stat_t).Uid) }
func gidOf(fi os.FileInfo) int { return int(fi.Sys().(*syscall.Stat_t).Gid) }
