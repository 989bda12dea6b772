package examples

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// TestBrokerContainers runs, for real, every example container that starts
// mosquitto under `certinit run` with certificate files another party
// writes (certbot's live/ links on a shared volume, a Kubernetes Secret):
// first the pod's init containers (`certinit init` filling a shared
// volume; see runInitContainers), then the container's CERTINIT_* settings
// as the manifest gives them (see environment), its mosquitto.conf, the
// first certificate written the way that party writes it, then a renewal
// written the same way (certbot's link swap, the kubelet's ..data swap)
// that the broker must serve, and its health check or readiness probe,
// which must pass.
func TestBrokerContainers(t *testing.T) {
	eachBrokerContainer(t, "with certificate files", func(b brokerContainer) bool { return b.s["cert"] != "" }, runBrokerContainer)
}

// eachBrokerContainer runs run, as a subtest, for each example container
// that runs mosquitto under `certinit run` and that which picks; the test
// fails when there is none (what says which those are).
func eachBrokerContainer(t *testing.T, what string, which func(brokerContainer) bool, run func(*testing.T, brokerContainer)) {
	testutil.RequireTool(t, "mosquitto")
	testutil.RequireTool(t, "openssl")
	ran := 0
	for _, b := range brokerContainers(t) {
		if !which(b) {
			continue
		}
		ran++
		t.Run(testName(b.c.where), func(t *testing.T) { run(t, b) })
	}
	if ran == 0 {
		t.Fatal("no example container runs mosquitto under certinit run " + what)
	}
}

// brokerContainer is an example container that runs mosquitto under
// `certinit run`, with the group (pod, Compose project) it belongs to.
type brokerContainer struct {
	g   *group
	c   *container
	inv *invocation
	s   map[string]string
}

// brokerContainers finds them in every Compose file, Kubernetes manifest
// and README `docker run` line of the examples.
func brokerContainers(t *testing.T) []brokerContainer {
	t.Helper()
	images := loadImages(t)
	var groups []*group
	files, _ := filepath.Glob("*/compose.yaml")
	for _, f := range files {
		groups = append(groups, loadCompose(t, f, testutil.ReadFile(t, f), images))
	}
	var objs []*k8sObject
	files, _ = filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		objs = append(objs, decodeObjects(t, f, testutil.ReadFile(t, f))...)
	}
	groups = append(groups, loadPods(t, objs, images)...)
	groups = append(groups, readmeGroups(t, images)...)
	var out []brokerContainer
	for _, g := range groups {
		for _, c := range g.containers {
			inv, s := containerSettings(t, c, t.Errorf)
			if inv == nil || inv.cmd.path != "run" || len(inv.child) == 0 || path.Base(inv.child[0]) != "mosquitto" || !slices.Contains(inv.child, "-c") {
				continue
			}
			out = append(out, brokerContainer{g, c, inv, s})
		}
	}
	return out
}

// readmeGroups are the `docker run` lines of the examples' READMEs that
// run our images, each a group of one container.
func readmeGroups(t *testing.T, images map[string]*image) []*group {
	t.Helper()
	files, _ := filepath.Glob("*/README.md")
	var groups []*group
	for _, f := range files {
		lines, nums, inline := readmeLines(string(testutil.ReadFile(t, f)))
		for i, line := range lines {
			for _, words := range shellCommands(line) {
				if inline[i] || len(words) < 3 || words[0] != "docker" || words[1] != "run" {
					continue
				}
				if g := dockerRun(t, filepath.Dir(f), fmt.Sprintf("%s:%d", f, nums[i]), words, images); g != nil {
					groups = append(groups, g)
				}
			}
		}
	}
	return groups
}

func testName(where string) string { return strings.NewReplacer("/", "_", " ", "_").Replace(where) }

// certWriter writes version n of a certificate the way the example's
// producer does; files holds certbot's four (cert, chain, fullchain,
// privkey).
type certWriter func(t *testing.T, n int, files map[string][]byte)

// secretFiles maps the keys cert-manager writes into a Secret to certbot's
// kinds of file.
var secretFiles = map[string]string{"tls.crt": "fullchain", "tls.key": "privkey", "ca.crt": "chain"}

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
		if secretFiles[certRel] != "fullchain" || secretFiles[keyRel] != "privkey" {
			t.Fatalf("%s: --cert %s --key %s: cert-manager writes tls.crt and tls.key", c.where, s["cert"], s["key"])
		}
		dir := filepath.Join(root, cm.target)
		return func(t *testing.T, n int, files map[string][]byte) {
			testutil.KubeSwap(t, dir, fmt.Sprintf("..2025_01_0%d_00_00_00.%d", n, n), secretData(t, c, cm.volume, files))
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

// secretData is what a Secret volume holds (all of cert-manager's keys, or
// the items the volume selects) for one issuance.
func secretData(t *testing.T, c *container, v *volume, files map[string][]byte) map[string][]byte {
	t.Helper()
	data := map[string][]byte{}
	for name := range v.keys {
		kind, ok := secretFiles[name]
		if !ok {
			t.Fatalf("%s: volume %s: the test maps Secret items by cert-manager's key names, not %q", c.where, v.name, name)
		}
		data[name] = files[kind]
	}
	return data
}

func runBrokerContainer(t *testing.T, b brokerContainer) {
	r := newBrokerRun(t, b.c, b.inv, b.s)
	write := producer(t, b.c, b.s, r.root)

	// The first certificate, written before the broker starts (certinit
	// would wait --wait for it otherwise).
	issue := func(n int, names ...string) map[string][]byte {
		out := r.h.issue(t, names...)
		files := map[string][]byte{}
		for _, k := range testutil.CertbotKinds {
			files[k] = testutil.ReadFile(t, filepath.Join(out, k+".pem"))
		}
		write(t, n, files)
		return files
	}
	capaths := r.runInitContainers(t, b.g, issue(1))

	r.start(t)
	ports := r.tlsPorts(t)
	waitServed := func() {
		for _, port := range ports {
			testutil.Eventually(t, within, func() (bool, string) {
				got, err := mosquittotest.ServedSerial(t, port, r.h.caFile, "localhost")
				if err != nil {
					return false, err.Error()
				}
				return got.Cmp(r.h.serial) == 0, fmt.Sprintf("port %d serves serial %x, want %x", port, got, r.h.serial)
			})
		}
	}
	waitServed()
	r.checkCopies(t)
	r.probes(t)
	r.useCapaths(t, capaths, ports[0])

	issue(2, "renewed.localhost")
	waitServed()
	r.probes(t)
	t.Logf("renewal written as the producer does it is served on %v", ports)
}
