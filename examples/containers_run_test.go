package examples

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/mosquittoconf"
)

// runFlags are the settings the container runs below apply, by flag name;
// true for a path, which moves under the test's root. Settings outside it
// (the image's CERTINIT_TRUST_STORE=auto, say) are logged and left out:
// they would act on this machine's own trust store.
var runFlags = map[string]bool{
	"cert": true, "key": true, "chain": true, "copy-to": true,
	"owner": false, "wait": false, "log-format": false, "log-level": false,
	"reload-signal": false, "debounce": false, "poll": false,
}

// TestBrokerContainers runs, for real, every example container that starts
// mosquitto under `certinit run` with certificate files another party
// writes (certbot's live/ links on a shared volume, a Kubernetes Secret):
// its CERTINIT_* settings as the manifest gives them (paths under a
// temporary root), its mosquitto.conf, the first certificate written the
// way that party writes it, then a renewal written the same way (certbot's
// link swap, the kubelet's ..data swap) that the broker must serve, and
// its health check or readiness probe, which must pass.
func TestBrokerContainers(t *testing.T) {
	testutil.RequireTool(t, "mosquitto")
	testutil.RequireTool(t, "openssl")
	images := loadImages(t)
	var groups []*group
	files, _ := filepath.Glob("*/compose.yaml")
	for _, f := range files {
		groups = append(groups, loadCompose(t, f, readFile(t, f), images))
	}
	var objs []*k8sObject
	files, _ = filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		objs = append(objs, decodeObjects(t, f, readFile(t, f))...)
	}
	groups = append(groups, loadPods(t, objs, images)...)

	ran := 0
	for _, g := range groups {
		for _, c := range g.containers {
			inv, s := containerSettings(t, c, t.Errorf)
			if inv == nil || inv.cmd.path != "run" || len(inv.child) == 0 || path.Base(inv.child[0]) != "mosquitto" {
				continue
			}
			if s["cert"] == "" {
				t.Logf("%s: not run here: certinit obtains its certificate itself (--acme-*) over the network; the configuration is checked by TestMosquittoConfs", c.where)
				continue
			}
			ran++
			t.Run(strings.NewReplacer("/", "_", " ", "_").Replace(c.where), func(t *testing.T) {
				runBrokerContainer(t, c, inv, s)
			})
		}
	}
	if ran == 0 {
		t.Fatal("no example container runs mosquitto under certinit run with certificate files")
	}
}

// certWriter writes version n of a certificate the way the example's
// producer does; files holds certbot's four (cert, chain, fullchain,
// privkey).
type certWriter func(t *testing.T, n int, files map[string][]byte)

// producer finds who writes the container's --cert and --key and returns
// a writer that does it the same way under root.
func producer(t *testing.T, c *container, s map[string]string, root string) certWriter {
	t.Helper()
	cm, certRel, _ := c.locate(s["cert"])
	km, keyRel, _ := c.locate(s["key"])
	if cm == nil || cm != km || cm.volume == nil {
		t.Fatalf("%s: --cert %s and --key %s are not on one volume", c.where, s["cert"], s["key"])
	}
	if cm.volume.kind == "secret" {
		dir := filepath.Join(root, cm.target)
		return func(t *testing.T, n int, files map[string][]byte) {
			testutil.KubeSwap(t, dir, fmt.Sprintf("..2025_01_0%d_00_00_00.%d", n, n),
				map[string][]byte{certRel: files["fullchain"], keyRel: files["privkey"], "ca.crt": files["chain"]})
		}
	}
	i := strings.Index(s["cert"], "/live/")
	if i < 0 {
		t.Fatalf("%s: who writes %s? The test knows certbot's live/ and Kubernetes Secrets", c.where, s["cert"])
	}
	name := path.Base(path.Dir(s["cert"]))
	kinds := map[string]string{"fullchain.pem": "fullchain", "cert.pem": "cert", "privkey.pem": "privkey", "chain.pem": "chain"}
	if kinds[path.Base(s["cert"])] == "" || kinds[path.Base(s["key"])] != "privkey" || path.Dir(s["key"]) != path.Dir(s["cert"]) {
		t.Fatalf("%s: %s and %s are not a certbot lineage's files", c.where, s["cert"], s["key"])
	}
	letsencrypt := filepath.Join(root, s["cert"][:i])
	return func(t *testing.T, n int, files map[string][]byte) {
		testutil.CertbotRenew(t, letsencrypt, name, n, files)
	}
}

func runBrokerContainer(t *testing.T, c *container, inv *invocation, s map[string]string) {
	bin := testutil.BuildCertinit(t)
	mosq := testutil.RequireTool(t, "mosquitto")
	confPath := inv.child[slices.Index(inv.child, "-c")+1]
	data, ok := c.content(t, confPath)
	if !ok {
		t.Fatalf("%s: mosquitto -c %s: not found", c.where, confPath)
	}
	h := rebase(t, c.where+": "+confPath, data, nil)
	write := producer(t, c, s, h.root)

	// The first certificate, written before the broker starts (certinit
	// would wait --wait for it otherwise).
	issue := func(n int, names ...string) {
		out := h.issue(t, names...)
		files := map[string][]byte{}
		for _, k := range testutil.CertbotKinds {
			files[k] = readFile(t, filepath.Join(out, k+".pem"))
		}
		write(t, n, files)
	}
	issue(1)

	var env []string
	for _, flag := range sortedKeys(s) {
		isPath, ok := runFlags[flag]
		v := s[flag]
		switch {
		case !ok:
			t.Logf("not applied here: --%s %s", flag, v)
			continue
		case isPath:
			v = filepath.Join(h.root, v)
		case flag == "owner" && h.user == "":
			continue // not root: the copies stay ours
		}
		env = append(env, "CERTINIT_"+strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))+"="+v)
	}
	t.Logf("certinit run with %s", strings.Join(env, " "))
	p := mosquittotest.StartProcEnv(t, "certinit run", env, bin, "run", "--", mosq, "-c", h.conf)
	p.WaitOutput(t, " running", 1, within)

	cfg, _, err := mosquittoconf.Load(h.conf)
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
		t.Fatalf("%s has no TLS listener", confPath)
	}
	waitServed := func() {
		for _, port := range ports {
			mosquittotest.WaitFor(t, within, func() (bool, string) {
				got, err := mosquittotest.ServedSerial(t, port, h.caFile, "localhost")
				if err != nil {
					return false, err.Error()
				}
				return got.Cmp(h.serial) == 0, fmt.Sprintf("port %d serves serial %x, want %x", port, got, h.serial)
			})
		}
	}
	waitServed()
	probes := func() {
		for _, pr := range c.probes {
			if len(pr) == 0 || !isCertinit(pr[0]) {
				continue
			}
			args := slices.Clone(pr[1:])
			for i, a := range args {
				if strings.HasPrefix(a, "/") {
					args[i] = filepath.Join(h.root, a)
				}
			}
			if r := certinit(t, args...); r.code != 0 {
				t.Errorf("health check %q: %s", pr, r)
			} else {
				t.Logf("health check passes: %s", strings.Join(pr, " "))
			}
		}
	}
	probes()

	issue(2, "renewed.localhost")
	waitServed()
	probes()
	t.Logf("renewal written as the producer does it is served on %v", ports)
}
