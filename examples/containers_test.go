package examples

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/mosquittoconf"
)

// The examples' Compose files, Kubernetes manifests and `docker run` lines
// are loaded into one model, containers sharing volumes, so one set of
// checks holds them all to the flags certinit has and to paths that line up
// between containers, volumes and the broker's configuration.

// volume is a Compose named volume or a pod volume.
type volume struct {
	name string
	kind string            // named, emptyDir, secret, configMap
	keys map[string]string // secret or configMap: file name -> content ("" when unknown)
}

// mount is a volume or a bind-mounted file in a container.
type mount struct {
	target   string
	volume   *volume // nil for a bind mount
	bind     string  // bind source: a path in the repository
	readOnly bool
}

// container is one container as the example defines it, with the image's
// ENTRYPOINT, CMD and ENV already applied.
type container struct {
	where  string
	argv   []string
	env    map[string]string
	mounts []mount
	image  *image     // nil for a foreign image
	probes [][]string // health check and probe commands
	// httpProbes are probes that GET a path of the container (Kubernetes
	// httpGet), with the port resolved to its number.
	httpProbes []httpProbe
	ports      []int // container ports it publishes; nil when not declared
	// published maps a container port to the host port that reaches it
	// (Compose "80:80", docker run -p); ports a CA validates challenges
	// on must be here.
	published map[int]int
}

// httpProbe is a probe that GETs path on a container port.
type httpProbe struct {
	path string
	port int
}

// group is containers that share volumes: a Compose project or a pod.
type group struct {
	where      string
	containers []*container
	volumes    map[string]*volume
	scrapePort int // the port a Prometheus scrape annotation names; 0: none
}

// locate finds what provides path in c: a mount (and the path inside it),
// or a file copied into the image.
func (c *container) locate(p string) (m *mount, rel string, inImage bool) {
	p = path.Clean(p)
	for i := range c.mounts {
		mt := &c.mounts[i]
		if p == mt.target || strings.HasPrefix(p, mt.target+"/") {
			if m == nil || len(mt.target) > len(m.target) {
				m, rel = mt, strings.TrimPrefix(strings.TrimPrefix(p, mt.target), "/")
			}
		}
	}
	if m != nil {
		return m, rel, false
	}
	if c.image != nil {
		_, inImage = c.image.files[p]
	}
	return nil, "", inImage
}

// content returns the bytes of a file the container sees: from a bind
// mount, a ConfigMap key, or a file COPY put into the image.
func (c *container) content(t testing.TB, p string) ([]byte, bool) {
	m, rel, inImage := c.locate(p)
	switch {
	case m != nil && m.volume == nil && rel == "":
		data, err := os.ReadFile(m.bind)
		return data, err == nil
	case m != nil && m.volume != nil && m.volume.kind == "configMap":
		v, ok := m.volume.keys[rel]
		return []byte(v), ok
	case inImage:
		return testutil.ReadFile(t, c.image.files[path.Clean(p)]), true
	}
	return nil, false
}

// inputFlags name files certinit reads; they must be there when it starts.
var inputFlags = []string{"cert", "key", "chain", "trust", "acme-ca", "acme-dns-rfc2136-tsig", "mosquitto-conf"}

// checkGroup runs every check on every container of g.
func checkGroup(t testing.TB, g *group) {
	t.Helper()
	for _, c := range g.containers {
		checkContainer(t, g, c)
	}
	if g.scrapePort != 0 && !slices.ContainsFunc(g.containers, func(c *container) bool {
		_, s := containerSettings(t, c, func(string, ...any) {}) // checkContainer reports their mistakes
		port, ok := metricsPort(s)
		return ok && port == g.scrapePort
	}) {
		t.Errorf("%s: Prometheus is told to scrape port %d, where no certinit serves --metrics-addr", g.where, g.scrapePort)
	}
	for _, name := range sortedKeys(g.volumes) {
		used := false
		for _, c := range g.containers {
			for _, m := range c.mounts {
				used = used || m.volume == g.volumes[name]
			}
		}
		if !used {
			t.Errorf("%s: volume %s is mounted by no container", g.where, name)
		}
	}
}

// checkContainer checks one container: its certinit command line, flags and
// CERTINIT_* variables against certinit's help; that every file certinit
// reads is on a volume (with a writer) or in the image; that the broker's
// mosquitto.conf reads the files certinit writes, as the user certinit
// writes them for, on a published port; and that health checks look at the
// same files.
func checkContainer(t testing.TB, g *group, c *container) {
	t.Helper()
	errorf := func(format string, args ...any) { t.Errorf("%s: %s", c.where, fmt.Sprintf(format, args...)) }
	if len(c.argv) == 0 {
		errorf("runs nothing: no ENTRYPOINT, CMD, command or args")
		return
	}
	inv, settings := containerSettings(t, c, errorf)
	if inv == nil {
		return
	}
	for _, f := range inputFlags {
		if v := settings[f]; v != "" {
			checkInput(g, c, "--"+f, v, errorf)
		}
	}
	if store, ok := strings.CutPrefix(settings["trust-store"], "dir:"); ok {
		checkShared(g, c, store, errorf)
	}
	checkChallengePorts(c, settings, errorf)
	want := certinitWrites(settings)
	if conf, confPath := brokerConf(t, c, inv, errorf); conf != nil {
		checkBrokerConf(conf, confPath, c, settings, want, errorf)
	}
	for _, p := range c.httpProbes {
		port, ok := metricsPort(settings)
		switch {
		case !ok:
			errorf("a probe GETs %s on port %d, but certinit serves no --metrics-addr", p.path, p.port)
		case p.port != port:
			errorf("a probe GETs %s on port %d, but certinit's --metrics-addr is on port %d", p.path, p.port, port)
		case p.path != "/healthz" && p.path != "/readyz":
			errorf("a probe GETs %s: certinit answers /healthz and /readyz", p.path)
		}
	}
	for _, p := range c.probes {
		if len(p) == 0 || !isCertinit(p[0]) {
			continue
		}
		pinv := parseInvocation(t, p, errorf)
		if pinv.cmd.path != "check" {
			continue
		}
		if pc, pk := pinv.value("cert"), pinv.value("key"); want.cert != "" && (pc != want.cert || pk != want.key) {
			errorf("health check looks at --cert %s --key %s, but the broker serves %s and %s", pc, pk, want.cert, want.key)
		}
	}
}

// containerSettings returns the certinit command a container runs (nil if
// none) and its settings by flag name: the command line's, then the
// CERTINIT_* variables' (the command line wins, as in urfave/cli).
func containerSettings(t testing.TB, c *container, errorf func(string, ...any)) (*invocation, map[string]string) {
	t.Helper()
	var inv *invocation
	settings := map[string]string{}
	if isCertinit(c.argv[0]) {
		inv = parseInvocation(t, c.argv, errorf)
		for f := range inv.flags {
			settings[f] = inv.value(f)
		}
	}
	for _, k := range sortedKeys(c.env) {
		if !strings.HasPrefix(k, "CERTINIT_") {
			continue
		}
		if inv == nil {
			errorf("sets %s but does not run certinit (it runs %q)", k, c.argv)
			continue
		}
		flag, err := envFlag(t, inv.cmd, k)
		if err != nil {
			errorf("%v", err)
			continue
		}
		if _, onCommandLine := settings[flag]; !onCommandLine {
			settings[flag] = c.env[k]
		}
	}
	return inv, settings
}

// checkInput requires a file certinit reads to be on a mounted volume that
// something writes (or in the image).
func checkInput(g *group, c *container, flag, p string, errorf func(string, ...any)) {
	m, rel, inImage := c.locate(p)
	switch {
	case inImage:
		return
	case m == nil:
		errorf("%s %s is neither on a mounted volume nor in the image", flag, p)
		return
	case m.volume == nil:
		return // a bind-mounted file from the repository (checked when loaded)
	}
	v := m.volume
	switch v.kind {
	case "secret", "configMap":
		if _, ok := v.keys[rel]; !ok {
			errorf("%s %s: volume %s (%s) holds no %q; it has %q", flag, p, v.name, v.kind, rel, sortedKeys(v.keys))
		}
	default:
		if m.readOnly && !writtenByOther(g, c, v) {
			errorf("%s %s is on volume %s, mounted read-only here, which no other container writes", flag, p, v.name)
		}
		if live := regexp.MustCompile(`/live/([^/]+)/`).FindStringSubmatch(p); live != nil {
			checkCertbotDomain(g, c, v, live[1], errorf)
		}
	}
}

// checkCertbotDomain requires a certbot container writing the volume to ask
// for the name whose live/ directory certinit reads.
func checkCertbotDomain(g *group, c *container, v *volume, name string, errorf func(string, ...any)) {
	for _, o := range g.containers {
		cmd := strings.Join(o.argv, " ")
		if o == c || !strings.Contains(cmd, "certbot") || !mounts(o, v) {
			continue
		}
		if !regexp.MustCompile(`(^|\s)(-d|--domains?)\s+` + regexp.QuoteMeta(name) + `(\s|,|$)`).MatchString(cmd) {
			errorf("reads certbot's live/%s/, but %s does not ask certbot for %s (-d)", name, o.where, name)
		}
		return
	}
}

// checkShared requires a directory certinit fills (a dir: trust store) to
// be on a volume that another container mounts: an init container's work
// is lost otherwise.
func checkShared(g *group, c *container, dir string, errorf func(string, ...any)) {
	m, _, _ := c.locate(dir)
	if m == nil || m.volume == nil {
		errorf("trust store %s is not on a volume, so no other container sees it", dir)
		return
	}
	for _, o := range g.containers {
		if o != c && mounts(o, m.volume) {
			return
		}
	}
	errorf("trust store %s is on volume %s, which no other container mounts", dir, m.volume.name)
}

func mounts(c *container, v *volume) bool {
	return slices.ContainsFunc(c.mounts, func(m mount) bool { return m.volume == v })
}

func writtenByOther(g *group, c *container, v *volume) bool {
	for _, o := range g.containers {
		if o != c && slices.ContainsFunc(o.mounts, func(m mount) bool { return m.volume == v && !m.readOnly }) {
			return true
		}
	}
	return false
}

// pair is a certificate file and its key.
type pair struct{ cert, key string }

// certinitWrites returns the pair the broker should read, given certinit's
// settings: the copies in --copy-to (same file names), the certbot-style
// files of the in-process ACME client, or the originals.
func certinitWrites(s map[string]string) pair {
	var p pair
	switch {
	case s["cert"] != "":
		p = pair{s["cert"], s["key"]}
	case s["acme-out"] != "":
		p = pair{path.Join(s["acme-out"], "fullchain.pem"), path.Join(s["acme-out"], "privkey.pem")}
	default:
		return p
	}
	if dir := s["copy-to"]; dir != "" {
		p = pair{path.Join(dir, path.Base(p.cert)), path.Join(dir, path.Base(p.key))}
	}
	return p
}

// brokerConf returns the mosquitto.conf of the broker certinit runs, from
// wherever the container gets it.
func brokerConf(t testing.TB, c *container, inv *invocation, errorf func(string, ...any)) (*mosquittoconf.Config, string) {
	child := inv.child
	if len(child) == 0 || path.Base(child[0]) != "mosquitto" {
		return nil, ""
	}
	i := slices.Index(child, "-c")
	if i < 0 || i+1 >= len(child) {
		errorf("mosquitto runs without -c: it would use no configuration file and no TLS")
		return nil, ""
	}
	data, ok := c.content(t, child[i+1])
	if !ok {
		errorf("mosquitto -c %s: no such file in the container (not mounted, not in the image)", child[i+1])
		return nil, ""
	}
	f := testutil.WriteFile(t, t.TempDir(), "mosquitto.conf", data)
	cfg, probs, err := mosquittoconf.Load(f)
	if err != nil {
		errorf("%s: %v", child[i+1], err)
		return nil, ""
	}
	for _, p := range probs {
		if p.Fatal {
			errorf("%s: %s", child[i+1], p)
		}
	}
	return cfg, child[i+1]
}

// checkBrokerConf requires the broker to read the pair certinit writes, as
// the user certinit writes the key for, on ports the container publishes.
func checkBrokerConf(cfg *mosquittoconf.Config, confPath string, c *container, s map[string]string, want pair, errorf func(string, ...any)) {
	for _, l := range cfg.Listeners {
		cert, hasCert := l.Get("certfile")
		key, _ := l.Get("keyfile")
		if !hasCert {
			continue
		}
		if want.cert == "" {
			errorf("%s: listener %s reads %s, but certinit is given no certificate (--cert or --acme-out)", confPath, l.Decl.Value, cert.Value)
		} else if cert.Value != want.cert || key.Value != want.key {
			errorf("%s: listener %s reads %s and %s, but certinit writes %s and %s", confPath, l.Decl.Value, cert.Value, key.Value, want.cert, want.key)
		}
		port, _ := strconv.Atoi(strings.Fields(l.Decl.Value)[0])
		if c.ports != nil && !slices.Contains(c.ports, port) {
			errorf("%s: TLS listener on %d, but the container publishes %v", confPath, port, c.ports)
		}
	}
	copies := s["copy-to"] != "" || s["acme-out"] != ""
	if owner, _, _ := strings.Cut(s["owner"], ":"); copies && owner != cfg.UserName() {
		errorf("%s: mosquitto drops to user %s, but certinit writes the key for %q (--owner): the broker could not read it", confPath, cfg.UserName(), owner)
	}
}
