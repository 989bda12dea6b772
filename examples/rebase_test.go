package examples

import (
	"fmt"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/mosquittoconf"
)

// pathOptions are the mosquitto.conf options whose value is a file or a
// directory. rebase moves them under the test's root; an absolute path in
// any other option fails the test, so a new example option cannot quietly
// point at this machine's own files.
var pathOptions = map[string]bool{
	"certfile": true, "keyfile": true, "cafile": true, "capath": true, "crlfile": true,
	"dhparamfile": true, "bridge_cafile": true, "bridge_capath": true,
	"bridge_certfile": true, "bridge_keyfile": true, "persistence_location": true,
	"password_file": true, "acl_file": true, "psk_file": true, "pid_file": true,
}

// host is an example mosquitto.conf made runnable here, as if Root were the
// container's root file system: absolute paths moved under Root, each
// listener on a free port of 127.0.0.1, bridges aimed at local brokers.
type host struct {
	name  string
	root  string
	conf  string         // the rewritten file, ROOT/mosquitto/config/mosquitto.conf
	text  string         // its content
	ports map[string]int // the example's listener port -> the port here
	user  string         // the account the broker runs as ("" when not root)

	caFile string   // the local CA that issued the certificates provision made
	serial *big.Int // the serial of the certificate the listeners serve
}

// rebase rewrites an example configuration for this machine. remotes maps
// a bridge address of the example (hub.example.com:8883) to the local one;
// an address not in it gets a port nothing listens on.
func rebase(t *testing.T, name string, data []byte, remotes map[string]string) *host {
	t.Helper()
	h := &host{name: name, root: testutil.ReadableDir(t), ports: map[string]int{}}
	dirs, probs := mosquittoconf.Parse(data, name)
	for _, p := range probs {
		if p.Fatal {
			t.Fatalf("%s: mosquitto would refuse it", p)
		}
	}
	lines := strings.Split(string(data), "\n")
	for _, d := range dirs {
		v, err := h.rewrite(t, d, remotes)
		if err != nil {
			t.Errorf("%s: %s: %v", d.Pos(), d.Name, err)
			continue
		}
		lines[d.Line-1] = d.Name + " " + v
	}
	if t.Failed() {
		t.FailNow()
	}
	if os.Geteuid() != 0 && !slices.ContainsFunc(dirs, func(d mosquittoconf.Directive) bool { return d.Name == "user" }) {
		// Not root, mosquitto runs as us whatever the file says; tell the
		// check so, or it would judge the files for user mosquitto.
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, "user "+u.Username)
	}
	cfg, _, err := mosquittoconf.Load(writeConf(t, h.root, strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		h.user = cfg.UserName()
	}
	h.conf, h.text = cfg.File, strings.Join(lines, "\n")
	return h
}

// rewrite returns the value a directive gets here.
func (h *host) rewrite(t *testing.T, d mosquittoconf.Directive, remotes map[string]string) (string, error) {
	words := strings.Fields(d.Value)
	switch {
	case d.Name == "listener":
		if len(words) > 2 {
			return "", fmt.Errorf("%q: only PORT [ADDRESS] is handled here", d.Value)
		}
		if _, dup := h.ports[words[0]]; dup {
			return "", fmt.Errorf("port %s twice", words[0])
		}
		h.ports[words[0]] = testutil.FreePort(t)
		return strconv.Itoa(h.ports[words[0]]) + " 127.0.0.1", nil
	case d.Name == "port" || d.Name == "bind_address":
		return "", fmt.Errorf("use listener PORT [ADDRESS], as mosquitto 2 documents")
	case d.Name == "address" || d.Name == "addresses":
		for i, w := range words {
			if r, ok := remotes[w]; ok {
				words[i] = r
			} else {
				words[i] = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
			}
		}
		return strings.Join(words, " "), nil
	case d.Name == "user":
		if os.Geteuid() == 0 {
			return d.Value, nil
		}
		// Not root: mosquitto keeps the current user, and so must the check.
		u, err := user.Current()
		if err != nil {
			return "", err
		}
		return u.Username, nil
	case d.Name == "log_dest":
		if words[0] == "stdout" {
			return "", fmt.Errorf("stdout is block-buffered when it is a pipe (docker logs, certinit run), so the log arrives late or never: use log_dest stderr")
		}
		if words[0] == "file" && len(words) == 2 && filepath.IsAbs(words[1]) {
			return "file " + filepath.Join(h.root, words[1]), nil
		}
		return d.Value, nil
	case pathOptions[d.Name]:
		if !filepath.IsAbs(d.Value) {
			return "", fmt.Errorf("%q is relative: mosquitto resolves it against its working directory; use an absolute path", d.Value)
		}
		return filepath.Join(h.root, d.Value), nil
	}
	for _, w := range words {
		if strings.HasPrefix(w, "/") {
			return "", fmt.Errorf("%q holds a path the test does not move: add %s to pathOptions", d.Value, d.Name)
		}
	}
	return d.Value, nil
}

func writeConf(t *testing.T, root, text string) string {
	t.Helper()
	return testutil.WriteFile(t, filepath.Join(root, "mosquitto", "config"), "mosquitto.conf", []byte(text))
}

// issue obtains a certificate for localhost and 127.0.0.1 from certinit's
// local issuer (standing in for Let's Encrypt) into ROOT/issued and records
// its CA and serial.
func (h *host) issue(t *testing.T, extraNames ...string) (out string) {
	t.Helper()
	out = filepath.Join(h.root, "issued")
	args := []string{"acme", "obtain", "--issuer", "local", "--domain", "localhost", "--domain", "127.0.0.1",
		"--out", out, "--cache", filepath.Join(h.root, "cache")}
	for _, n := range extraNames {
		args = append(args, "--domain", n)
	}
	mustCertinit(t, args...)
	h.caFile = filepath.Join(out, "chain.pem")
	certs, err := pemfile.ReadCertificates(filepath.Join(out, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	h.serial = certs[0].SerialNumber
	return out
}

// provision creates every file and directory the rewritten configuration
// names, the way certinit does it in the example's container: a local-issuer
// certificate copied into the certfile/keyfile directory by `certinit init
// --copy-to --owner` (keeping the example's file names), CA directories by
// `certinit trust install --store dir:`, CA files as plain copies, and the
// persistence directory owned by the broker's user.
func (h *host) provision(t *testing.T) {
	t.Helper()
	issued := h.issue(t)
	cfg, _, err := mosquittoconf.Load(h.conf)
	if err != nil {
		t.Fatal(err)
	}
	pairs := map[string]bool{}
	for _, l := range cfg.Listeners {
		cert, okc := l.Get("certfile")
		key, okk := l.Get("keyfile")
		if okc && okk {
			h.pair(t, issued, cert.Value, key.Value, pairs)
		}
	}
	for _, b := range cfg.Bridges {
		cert, okc := b.Get("bridge_certfile")
		key, okk := b.Get("bridge_keyfile")
		if okc && okk {
			h.pair(t, issued, cert.Value, key.Value, pairs)
		}
	}
	for _, d := range cfg.Directives {
		switch d.Name {
		case "certfile", "keyfile", "bridge_certfile", "bridge_keyfile":
			// done above
		case "capath", "bridge_capath":
			mustCertinit(t, "trust", "install", "--store", "dir:"+d.Value, h.caFile)
		case "cafile", "bridge_cafile":
			testutil.WriteFile(t, filepath.Dir(d.Value), filepath.Base(d.Value), testutil.ReadFile(t, h.caFile))
		case "persistence_location":
			h.dataDir(t, d.Value)
		default:
			if pathOptions[d.Name] {
				t.Fatalf("%s: provision does not create files for %s yet", d.Pos(), d.Name)
			}
		}
	}
}

// pair stages the issued certificate and key under the example's file
// names and lets `certinit init` copy them where the broker reads them.
func (h *host) pair(t *testing.T, issued, certfile, keyfile string, done map[string]bool) {
	t.Helper()
	if done[certfile+"\x00"+keyfile] {
		return
	}
	done[certfile+"\x00"+keyfile] = true
	if filepath.Dir(certfile) != filepath.Dir(keyfile) {
		t.Fatalf("%s: certfile %s and keyfile %s are in different directories; certinit --copy-to writes both into one", h.name, certfile, keyfile)
	}
	stage := filepath.Join(h.root, "staged", strconv.Itoa(len(done)))
	if err := os.MkdirAll(stage, 0o700); err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(stage, filepath.Base(certfile))
	key := filepath.Join(stage, filepath.Base(keyfile))
	if err := os.WriteFile(cert, testutil.ReadFile(t, filepath.Join(issued, "fullchain.pem")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, testutil.ReadFile(t, filepath.Join(issued, "privkey.pem")), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"init", "--cert", cert, "--key", key, "--copy-to", filepath.Dir(certfile)}
	if h.user != "" {
		args = append(args, "--owner", h.user)
	}
	mustCertinit(t, args...)
}

// dataDirs creates the persistence directories of the configuration, as
// the broker's image has them (owned by the broker's user).
func (h *host) dataDirs(t *testing.T) {
	t.Helper()
	cfg, _, err := mosquittoconf.Load(h.conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cfg.Directives {
		if d.Name == "persistence_location" {
			h.dataDir(t, d.Value)
		}
	}
}

func (h *host) dataDir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if h.user != "" {
		chownTo(t, dir, h.user)
	}
}

// lookupID returns the id of a user (or, with group, a group) given by
// name or number.
func lookupID(t *testing.T, name string, group bool) int {
	t.Helper()
	if n, err := strconv.Atoi(name); err == nil {
		return n
	}
	var id string
	if group {
		g, err := user.LookupGroup(name)
		if err != nil {
			t.Fatal(err)
		}
		id = g.Gid
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		id = u.Uid
	}
	n, _ := strconv.Atoi(id)
	return n
}

func chownTo(t *testing.T, path, name string) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("broker user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}
