package examples

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// image is what a stage of the repository's Dockerfile puts into an image
// that the examples run: its exec-form ENTRYPOINT and CMD, its ENV, and the
// files COPY brings from the build context (internal/packaging checks the
// Dockerfile itself; this is the part the examples depend on).
type image struct {
	stage      string
	entrypoint []string
	cmd        []string
	env        map[string]string
	files      map[string]string // path in the image -> path in the repository
}

// loadImages parses the Dockerfile's stages. An ENTRYPOINT or CMD that is
// not exec form (a JSON array) fails the test: a shell form would put
// /bin/sh in front of certinit as PID 1, which forwards no signals.
func loadImages(t testing.TB) map[string]*image {
	t.Helper()
	root := testutil.ModuleRoot(t)
	data := testutil.ReadFile(t, filepath.Join(root, "Dockerfile"))
	images := map[string]*image{}
	var cur *image
	var logical []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	acc := ""
	for sc.Scan() {
		l := sc.Text()
		if acc == "" && strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			acc += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		logical = append(logical, strings.TrimSpace(acc+l))
		acc = ""
	}
	for _, l := range logical {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		rest := strings.TrimSpace(l[len(f[0]):])
		switch strings.ToUpper(f[0]) {
		case "FROM":
			cur = &image{env: map[string]string{}, files: map[string]string{}}
			if len(f) >= 4 && strings.EqualFold(f[2], "AS") {
				cur.stage = f[3]
				images[cur.stage] = cur
			}
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				t.Errorf("Dockerfile stage %s: %s %s is not exec form (a JSON array): %v", cur.stage, f[0], rest, err)
				continue
			}
			if strings.EqualFold(f[0], "ENTRYPOINT") {
				cur.entrypoint = argv
			} else {
				cur.cmd = argv
			}
		case "ENV":
			for _, kv := range f[1:] {
				if k, v, ok := strings.Cut(kv, "="); ok {
					cur.env[k] = v
				}
			}
		case "COPY":
			if strings.Contains(l, "--from=") || len(f) != 3 {
				continue
			}
			dst := f[2]
			if strings.HasSuffix(dst, "/") {
				dst = path.Join(dst, path.Base(f[1]))
			}
			cur.files[dst] = filepath.Join(root, f[1])
		}
	}
	for _, want := range []string{"certinit", "mosquitto"} {
		if images[want] == nil {
			t.Fatalf("Dockerfile has no stage %q, which the examples run", want)
		}
	}
	return images
}

// imageStages maps the last path component of an image name the examples
// use (registry and tag removed) to the Dockerfile stage that builds it, as
// the README's `docker build --target` lines name them.
var imageStages = map[string]string{
	"certinit":           "certinit",
	"mosquitto-certinit": "mosquitto",
}

// foreignImages are images of other projects the examples run beside
// certinit; their ENTRYPOINT is not ours to check.
var foreignImages = map[string]bool{
	"certbot/certbot": true,
}

// imageFor resolves an image reference: one of our stages, a known foreign
// image (nil, true), or unknown (nil, false).
func imageFor(images map[string]*image, ref string) (*image, bool) {
	name := ref
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i] // the tag
	}
	if foreignImages[name] {
		return nil, true
	}
	if st, ok := imageStages[path.Base(name)]; ok {
		return images[st], true
	}
	return nil, false
}
