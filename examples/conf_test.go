package examples

import (
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/mosquittoconf"
)

// exampleConf is one Mosquitto configuration of the examples: a .conf file,
// or a ConfigMap key ending in .conf.
type exampleConf struct {
	name string // bridge/hub.conf, kubernetes/mosquitto-configmap.yaml:mosquitto.conf
	data []byte
}

// exampleConfs finds every Mosquitto configuration under examples/.
func exampleConfs(t *testing.T) []exampleConf {
	t.Helper()
	var confs []exampleConf
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".conf":
			confs = append(confs, exampleConf{filepath.ToSlash(path), testutil.ReadFile(t, path)})
		case ".yaml", ".yml":
			for _, cm := range configMaps(t, path) {
				for _, k := range sortedKeys(cm.Data) {
					if strings.HasSuffix(k, ".conf") {
						confs = append(confs, exampleConf{filepath.ToSlash(path) + ":" + k, []byte(cm.Data[k])})
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(confs) == 0 {
		t.Fatal("no Mosquitto configuration found under examples/")
	}
	return confs
}

// configMaps returns the ConfigMaps among the YAML documents of path.
func configMaps(t *testing.T, path string) []*k8sObject {
	t.Helper()
	var out []*k8sObject
	for _, o := range decodeObjects(t, path, testutil.ReadFile(t, path)) {
		if o.Kind == "ConfigMap" {
			out = append(out, o)
		}
	}
	return out
}

// TestMosquittoConfs runs every Mosquitto configuration of the examples,
// rewritten for this machine (paths under a temporary root holding
// certinit-made certificates, listeners on free ports of 127.0.0.1),
// through `certinit check --mosquitto-conf`, which must find nothing, and
// then through mosquitto itself, which must start and serve the
// certificate on every TLS listener.
func TestMosquittoConfs(t *testing.T) {
	testutil.RequireTool(t, "mosquitto")
	testutil.RequireTool(t, "openssl")
	for _, ec := range exampleConfs(t) {
		t.Run(strings.ReplaceAll(ec.name, "/", "_"), func(t *testing.T) {
			h := rebase(t, ec.name, ec.data, nil)
			h.provision(t)

			r := certinit(t, "check", "--mosquitto-conf", h.conf)
			if r.Code != 0 || r.Stdout != "ok\n" {
				t.Fatalf("certinit check --mosquitto-conf on %s (rewritten as %s):\n%s\nconfig:\n%s", ec.name, h.conf, r, h.text)
			}

			mosquittotest.Start(t, filepath.Dir(h.conf), h.text)
			cfg, _, err := mosquittoconf.Load(h.conf)
			if err != nil {
				t.Fatal(err)
			}
			tls := 0
			for _, l := range cfg.Listeners {
				if _, ok := l.Get("certfile"); !ok {
					continue
				}
				tls++
				port, _ := strconv.Atoi(strings.Fields(l.Decl.Value)[0]) // already rewritten
				got, err := mosquittotest.ServedSerial(t, port, h.caFile, "localhost")
				if err != nil {
					t.Fatalf("%s: %v", l.Name(), err)
				}
				if got.Cmp(h.serial) != 0 {
					t.Fatalf("%s serves serial %x, want the issued %x", l.Name(), got, h.serial)
				}
			}
			t.Logf("%s: check ok, mosquitto started, %d TLS listener(s) serve the issued certificate", ec.name, tls)
		})
	}
}
