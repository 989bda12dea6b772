package examples

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// capath is a directory an init container filled as a dir: trust store,
// as the broker container sees it.
type capath struct {
	where string   // the init container
	dir   string   // under the broker container's root
	trust []string // the --trust files it was made from
}

// runInitContainers runs the init containers of r's pod before the broker
// starts, as Kubernetes does (in order, each to completion): `certinit
// init` with its settings applied like the broker's (see environment), in
// its own root, its Secret volumes holding files (the issuance the broker
// starts with). An emptyDir lives in the root of the first container that
// mounts it and appears in the others' at their own mount path, a symlink
// standing in for the bind mount: a hash link that works only at the
// writer's path dangles at the reader's, as it would in the pod. It returns
// the dir: stores they filled that r mounts, each already checked through
// both mounts (checkCapath).
func (r *containerRun) runInitContainers(t *testing.T, g *group, files map[string][]byte) []capath {
	t.Helper()
	vols := map[*volume]string{}
	var capaths []capath
	for _, c := range g.containers {
		if c == r.c || len(c.argv) == 0 || !isCertinit(c.argv[0]) {
			continue
		}
		inv, s := containerSettings(t, c, t.Errorf)
		if inv == nil || inv.cmd.path != "init" {
			continue
		}
		ir := &containerRun{c: c, inv: inv, s: s, root: testutil.ReadableDir(t)}
		for _, m := range c.mounts {
			target := filepath.Join(ir.root, m.target)
			switch {
			case m.volume != nil && m.volume.kind == "secret":
				testutil.KubeSwap(t, target, "..2025_01_01_00_00_00.1", secretData(t, c, m.volume, files))
			case m.volume != nil && m.volume.kind == "emptyDir":
				if vols[m.volume] != "" {
					t.Fatalf("%s: volume %s: the test shares an emptyDir from its first container only", c.where, m.volume.name)
				}
				// The kubelet creates an emptyDir world-writable.
				if err := os.MkdirAll(target, 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(target, 0o777); err != nil {
					t.Fatal(err)
				}
				vols[m.volume] = target
			default:
				t.Fatalf("%s: mount %s: the test runs init containers with Secret and emptyDir volumes only", c.where, m.target)
			}
		}
		ir.runInit(t)

		store, ok := strings.CutPrefix(s["trust-store"], "dir:")
		if !ok {
			continue
		}
		var trust []string
		for _, f := range strings.Split(s["trust"], ",") {
			trust = append(trust, filepath.Join(ir.root, f))
		}
		checkCapath(t, c.where+" (its own mount)", filepath.Join(ir.root, store), trust, files["fullchain"])
		sm, rel, _ := c.locate(store)
		for _, bm := range r.c.mounts {
			if sm != nil && sm.volume != nil && bm.volume == sm.volume {
				capaths = append(capaths, capath{where: c.where, dir: filepath.Join(r.root, bm.target, rel), trust: trust})
			}
		}
	}
	for _, m := range r.c.mounts {
		if dir, ok := vols[m.volume]; ok {
			link := filepath.Join(r.root, m.target)
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, cp := range capaths {
		checkCapath(t, r.c.where+" (mounted from "+cp.where+")", cp.dir, cp.trust, files["fullchain"])
	}
	return capaths
}

// runInit runs the init container's command, `certinit init`, which must
// succeed.
func (r *containerRun) runInit(t *testing.T) {
	t.Helper()
	env := r.environment(t)
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.BuildCertinit(t), append([]string{"init"}, r.inv.args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: certinit init with %s: %v\n%s", r.c.where, strings.Join(env, " "), err, out)
	}
	t.Logf("%s: certinit init with %s: done", r.c.where, strings.Join(env, " "))
}

// checkCapath requires dir to be a capath OpenSSL uses as it is, holding
// every certificate of the trust files: HASH.N, HASH being what `openssl
// x509 -subject_hash` prints, resolves to a copy inside dir (a link into
// the Secret's mount would dangle in a container that does not mount it)
// with mode 0644, readable by the broker after it drops privileges, owned
// by the user certinit ran as (the manifest names no --owner); and
// `openssl verify -CApath dir` accepts the certificate the broker serves.
func checkCapath(t *testing.T, where, dir string, trust []string, served []byte) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatalf("%s: capath %s: %v", where, dir, err)
	}
	tmp := t.TempDir()
	for _, f := range trust {
		certs, err := pemfile.ReadCertificates(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range certs {
			pem := testutil.WriteFile(t, tmp, strconv.Itoa(i)+".pem", testutil.CertPEM(c))
			out, err := exec.Command(openssl, "x509", "-subject_hash", "-noout", "-in", pem).Output()
			if err != nil {
				t.Fatalf("openssl x509 -subject_hash: %v", err)
			}
			hash := strings.TrimSpace(string(out))
			found := ""
			for n := 0; found == "" && n < 10; n++ {
				link := filepath.Join(dir, hash+"."+strconv.Itoa(n))
				if _, err := os.Lstat(link); err != nil {
					break
				}
				target, err := filepath.EvalSymlinks(link)
				if err != nil {
					t.Errorf("%s: %s dangles: %v", where, link, err)
					continue
				}
				if got, err := pemfile.ReadCertificates(target); err == nil && got[0].Equal(c) {
					found = target
				}
			}
			switch {
			case found == "":
				t.Errorf("%s: no %s.N in %s leads to %s (%s)", where, hash, dir, c.Subject, f)
				continue
			case filepath.Dir(found) != realDir:
				t.Errorf("%s: %s.N leads to %s, outside the capath %s", where, hash, found, dir)
			}
			checkFile(t, found, 0o644, "")
			t.Logf("%s: %s/%s.N -> %s (%s)", where, dir, hash, filepath.Base(found), c.Subject)
		}
	}
	cert := testutil.WriteFile(t, tmp, "served.pem", served)
	if out, err := exec.Command(openssl, "verify", "-CApath", dir, cert).CombinedOutput(); err != nil {
		t.Errorf("%s: openssl verify -CApath %s: %v\n%s", where, dir, err, out)
	}
}

// useCapaths makes the connections the broker container's capaths are
// for: the certificate it serves verifies through each (certinit check
// --capath also checks every link), and mosquitto_sub and mosquitto_pub
// trusting nothing else exchange a message over TLS.
func (r *containerRun) useCapaths(t *testing.T, capaths []capath, port int) {
	t.Helper()
	for _, cp := range capaths {
		cert := filepath.Join(r.root, certinitWrites(r.s).cert)
		if res := certinit(t, "check", "--cert", cert, "--capath", cp.dir); res.Code != 0 {
			t.Errorf("certinit check --capath %s: %s", cp.dir, res)
		}
		ep := mosquittotest.Endpoint{Port: port, CAPath: cp.dir}
		sub := mosquittotest.Subscribe(t, ep, "capath/test")
		m := mosquittotest.Deliver(t, ep, sub, "capath/test", "capath", within)
		t.Logf("mosquitto_pub and mosquitto_sub --capath %s: %s delivered", cp.dir, m)
	}
}
