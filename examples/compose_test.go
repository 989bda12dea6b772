package examples

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/certinit/certinit/internal/testutil"
)

// composeFile is the part of the Compose specification the examples use.
// Unknown keys fail the decoding, so a typo in an example is caught.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       *composeBuild     `yaml:"build"`
	Entrypoint  yaml.Node         `yaml:"entrypoint"`
	Command     yaml.Node         `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Healthcheck *struct {
		Test     yaml.Node `yaml:"test"`
		Interval string    `yaml:"interval"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

type composeBuild struct {
	Context string `yaml:"context"`
	Target  string `yaml:"target"`
}

// badDollar is a $ that Compose's interpolation does not take as a variable.
var badDollar = regexp.MustCompile(`\$[^{A-Za-z_]`)

// execForm returns a Compose command given as a list. A string is split by
// Compose without a shell, quoting rules differ from sh, and readers take
// it for shell form: the examples use lists only.
func execForm(n yaml.Node, what string, errorf func(string, ...any)) ([]string, bool) {
	if n.Kind == 0 {
		return nil, false
	}
	var argv []string
	if n.Kind != yaml.SequenceNode || n.Decode(&argv) != nil {
		errorf("%s is not a list (exec form): %q", what, n.Value)
		return nil, false
	}
	return argv, true
}

// loadCompose reads a Compose file into the container model.
func loadCompose(t testing.TB, file string, data []byte, images map[string]*image) *group {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cf composeFile
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if m := badDollar.FindString(strings.ReplaceAll(line, "$$", "")); m != "" {
			t.Errorf("%s:%d: %q: Compose interpolates $; write $$ for a literal dollar", file, i+1, m)
		}
	}
	g := &group{where: file, volumes: map[string]*volume{}}
	for name := range cf.Volumes {
		g.volumes[name] = &volume{name: name, kind: "named"}
	}
	root := testutil.ModuleRoot(t)
	for _, name := range sortedKeys(cf.Services) {
		s := cf.Services[name]
		c := &container{where: fmt.Sprintf("%s: service %s", file, name), env: map[string]string{}}
		errorf := func(format string, args ...any) { t.Errorf("%s: %s", c.where, fmt.Sprintf(format, args...)) }
		switch {
		case s.Build != nil:
			if ctx := filepath.Join(filepath.Dir(file), s.Build.Context); !sameDir(ctx, root) {
				errorf("build context %s is not the repository root, where the Dockerfile is", s.Build.Context)
			}
			if c.image = images[s.Build.Target]; c.image == nil {
				errorf("build target %q is no stage of the Dockerfile", s.Build.Target)
			}
		case s.Image != "":
			img, known := imageFor(images, s.Image)
			if !known {
				errorf("image %s is neither built by the Dockerfile nor listed in foreignImages", s.Image)
			}
			c.image = img
		default:
			errorf("neither image nor build")
		}
		if c.image != nil {
			for k, v := range c.image.env {
				c.env[k] = v
			}
			c.argv = append(c.argv, c.image.entrypoint...)
		}
		cmd := []string(nil)
		if c.image != nil {
			cmd = c.image.cmd
		}
		if ep, ok := execForm(s.Entrypoint, "entrypoint", errorf); ok {
			c.argv, cmd = ep, nil // a new entrypoint drops the image's CMD
		}
		if cm, ok := execForm(s.Command, "command", errorf); ok {
			cmd = cm
		}
		c.argv = append(c.argv, cmd...)
		for k, v := range s.Environment {
			c.env[k] = v
		}
		for _, v := range s.Volumes {
			c.mounts = append(c.mounts, composeMount(g, filepath.Dir(file), v, errorf))
		}
		c.ports, c.published = []int{}, map[int]int{}
		for _, p := range s.Ports {
			publish(c, strings.TrimSuffix(p, "/tcp"), errorf)
		}
		if hc := s.Healthcheck; hc != nil {
			if test, ok := execForm(hc.Test, "healthcheck test", errorf); ok {
				if len(test) == 0 || test[0] != "CMD" {
					errorf("healthcheck test %q: use [\"CMD\", ...], not a shell", test)
				} else {
					c.probes = append(c.probes, test[1:])
				}
			}
		}
		g.containers = append(g.containers, c)
	}
	return g
}

// publish records a port specification, [[IP:]HOST:]CONTAINER, of Compose
// or docker run -p.
func publish(c *container, spec string, errorf func(string, ...any)) {
	parts := strings.Split(spec, ":")
	n, err := strconv.Atoi(parts[len(parts)-1])
	if err != nil {
		errorf("port %q: %v", spec, err)
		return
	}
	c.ports = append(c.ports, n)
	if len(parts) >= 2 {
		if host, err := strconv.Atoi(parts[len(parts)-2]); err == nil {
			c.published[n] = host
		}
	}
}

// composeMount reads a short-syntax volume, SOURCE:TARGET[:ro].
func composeMount(g *group, dir, spec string, errorf func(string, ...any)) mount {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		errorf("volume %q: want SOURCE:TARGET[:ro]", spec)
		return mount{}
	}
	m := mount{target: parts[1], readOnly: len(parts) == 3 && parts[2] == "ro"}
	src := parts[0]
	if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
		m.bind = filepath.Join(dir, src)
		if _, err := os.Stat(m.bind); err != nil {
			errorf("bind mount %s: %v", src, err)
		}
		return m
	}
	if m.volume = g.volumes[src]; m.volume == nil {
		errorf("volume %s is not declared under the top-level volumes", src)
	}
	return m
}

func sameDir(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// TestCompose loads every compose.yaml of the examples with the images the
// Dockerfile builds and checks each service (see checkContainer): certinit
// flags and CERTINIT_* variables that exist, exec-form commands, volumes
// that are declared and shared with their writer, a mosquitto.conf that
// reads the files certinit writes.
func TestCompose(t *testing.T) {
	files, _ := filepath.Glob("*/compose.yaml")
	if len(files) == 0 {
		t.Fatal("no compose.yaml under examples/")
	}
	images := loadImages(t)
	for _, f := range files {
		t.Run(filepath.Dir(f), func(t *testing.T) {
			checkGroup(t, loadCompose(t, f, testutil.ReadFile(t, f), images))
		})
	}
}
