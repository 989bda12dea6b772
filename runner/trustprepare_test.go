package runner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/verify"
)

// Tests of the preparation with --trust, --rehash and --acme-*, through
// Init in the test process, against openssl.

// TestInitTrustRoot: init builds a Debian-style store in an empty root
// (scratch, distroless); a bad trust file stops it with one line naming
// the file and leaves the store byte for byte as it was, even next to a
// good file.
func TestInitTrustRoot(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	dir, root := t.TempDir(), t.TempDir()
	ca := testutil.NewCA(t, "init trust CA")
	caFile := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))
	logs, err := initLogged(t, Config{Trust: []string{caFile}, TrustStore: "auto", Root: root})
	if err != nil {
		t.Fatal(err)
	}
	requireRecord(t, logs, testutil.All(testutil.Message("trust installed"), testutil.HasAttr("store", "debian"), testutil.HasAttr("added", "1")))
	bundle, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil || !bytes.Contains(bundle, testutil.CertPEM(ca.Cert)) {
		t.Fatalf("bundle does not hold the CA (err %v)", err)
	}
	requireLink(t, filepath.Join(root, "etc/ssl/certs"), caFile, true)
	if m, _ := filepath.Glob(filepath.Join(root, "usr/local/share/ca-certificates/*.crt")); len(m) != 1 {
		t.Fatalf("local sources %v, want one", m)
	}

	leaf, _ := ca.Issue(t, testutil.CertOpts{})
	good := testutil.WriteFile(t, dir, "good.pem", testutil.CertPEM(testutil.NewCA(t, "not installed").Cert))
	full := testutil.CertPEM(ca.Cert)
	bad := []struct{ name, file, words string }{
		{"server certificate", testutil.WriteFile(t, dir, "server.pem", testutil.CertPEM(leaf)), "not self-signed"},
		{"truncated PEM", testutil.WriteFile(t, dir, "cut.pem", append(full, full[:len(full)/2]...)), "malformed PEM"},
		{"garbage", testutil.WriteFile(t, dir, "junk.pem", []byte("not a certificate\n")), "junk.pem"},
	}
	before := testutil.TreeDigest(t, root, true)
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := initLogged(t, Config{Trust: []string{good, tc.file}, TrustStore: "auto", Root: root})
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("Init: %v; want one line naming %s and saying %q", err, tc.file, tc.words)
			}
			if after := testutil.TreeDigest(t, root, true); after != before {
				t.Fatalf("store changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

// TestInitStepsInOrder: the steps run one after the other, trust install
// first, so a step may use what an earlier one wrote: a --rehash capath
// whose links lead into the store gets hash links for the CA the install
// just put there, and --copy-to may lie below a store directory. A failing
// install (bad input, or a link planted where the bundle goes) stops init
// before the rehash and the copy.
func TestInitStepsInOrder(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	fleet := testutil.NewCA(t, "fleet CA")
	ca := testutil.WriteFile(t, dir, "fleet-ca.pem", testutil.CertPEM(fleet.Cert))
	c, k := fleet.Issue(t, testutil.CertOpts{})
	cert, key := testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(c)), testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, k))
	// Where the install puts the CA in a Debian store (the name is the
	// store's to choose): learnt from an install into a scratch root.
	scratch := t.TempDir()
	if _, err := initLogged(t, Config{Trust: []string{ca}, TrustStore: "debian", Root: scratch}); err != nil {
		t.Fatal(err)
	}
	local, _ := filepath.Glob(filepath.Join(scratch, "usr/local/share/ca-certificates/*.crt"))
	if len(local) != 1 {
		t.Fatalf("local sources %v, want one", local)
	}

	root := t.TempDir()
	capath := filepath.Join(dir, "capath") // links into the store, dangling until the install
	if err := os.Mkdir(capath, 0o755); err != nil {
		t.Fatal(err)
	}
	stored := filepath.Join(root, "usr/local/share/ca-certificates", filepath.Base(local[0]))
	if err := os.Symlink(stored, filepath.Join(capath, "fleet.pem")); err != nil {
		t.Fatal(err)
	}
	copyDir := filepath.Join(root, "usr/local/share/ca-certificates/broker")
	cfg := Config{Trust: []string{ca}, TrustStore: "debian", Root: root, Rehash: []string{capath}, Cert: cert, Key: key, CopyTo: copyDir}
	for i := range 2 { // the second start finds the copies in the store's directory
		logs, err := initLogged(t, cfg)
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		requireLink(t, capath, ca, true)
		if !sameBytes(cert, filepath.Join(copyDir, "cert.pem")) {
			t.Fatalf("start %d: no copy in %s", i+1, copyDir)
		}
		requireRecord(t, logs, testutil.All(testutil.Message("trust installed"), testutil.HasAttr("added", fmt.Sprint(1-i)),
			testutil.HasAttr("present", fmt.Sprint(i))))
	}

	for _, tc := range []struct {
		name  string
		trust string
		plant bool
	}{
		{"bad input", testutil.WriteFile(t, dir, "junk.pem", []byte("not a certificate\n")), false},
		{"planted bundle link", ca, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			capath := filepath.Join(t.TempDir(), "capath")
			testutil.WriteFile(t, capath, "peer.pem", testutil.CertPEM(testutil.NewCA(t, "peer").Cert))
			if tc.plant {
				certs := filepath.Join(root, "etc/ssl/certs")
				if err := os.MkdirAll(certs, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("/dev/null", filepath.Join(certs, "ca-certificates.crt")); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			_, err := initLogged(t, Config{Trust: []string{tc.trust}, TrustStore: "debian", Root: root,
				Rehash: []string{capath}, Cert: cert, Key: key, CopyTo: out})
			if err == nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Init: %v; want one line", err)
			}
			if tc.plant && !strings.Contains(err.Error(), "ca-certificates.crt") || !tc.plant && !strings.Contains(err.Error(), tc.trust) {
				t.Fatalf("Init: %v; want the install's error naming the file", err)
			}
			if links, _ := filepath.Glob(filepath.Join(capath, "*.0")); len(links) != 0 {
				t.Errorf("the rehash ran: %v", links)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the copy ran: %s exists", out)
			}
		})
	}
}

// TestInitChainRoots: with --trust the pair's chain must verify to what
// the machine trusts after the install: a --trust file, or the OS store
// even when --trust goes to a dir: capath (a public certificate beside a
// private bridge CA); a certificate from anywhere else is refused.
func TestInitChainRoots(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	public, bridge, stranger := testutil.NewCA(t, "public root"), testutil.NewCA(t, "bridge CA"), testutil.NewCA(t, "stranger")
	publicFile := testutil.WriteFile(t, dir, "public.pem", testutil.CertPEM(public.Cert))
	if _, err := initLogged(t, Config{Trust: []string{publicFile}, TrustStore: "auto", Root: root}); err != nil {
		t.Fatalf("OS store: %v", err)
	}
	bridgeFile := testutil.WriteFile(t, dir, "bridge.pem", testutil.CertPEM(bridge.Cert))
	for _, tc := range []struct {
		name   string
		issuer *testutil.CA
		ok     bool
	}{{"public certificate", public, true}, {"bridge CA certificate", bridge, true}, {"unknown CA", stranger, false}} {
		t.Run(tc.name, func(t *testing.T) {
			c, k := tc.issuer.Issue(t, testutil.CertOpts{})
			sub := t.TempDir()
			cert, key := testutil.WriteFile(t, sub, "fullchain.pem", testutil.CertPEM(c)), testutil.WriteFile(t, sub, "privkey.pem", testutil.KeyPEM(t, k))
			_, err := initLogged(t, Config{Trust: []string{bridgeFile}, TrustStore: "dir:/capath", Root: root, Cert: cert, Key: key})
			if (err == nil) != tc.ok || err != nil && !strings.HasPrefix(err.Error(), cert+": chain does not verify") {
				t.Fatalf("Init: %v; want success %v", err, tc.ok)
			}
		})
	}
}

// TestInitLocalIssuer: init obtains from the local issuer; Owner owns the
// ACME output and the copies (key 0640 with a group), and the pair
// verifies to the local CA. A second init reuses the certificate.
func TestInitLocalIssuer(t *testing.T) {
	dir := t.TempDir()
	out, copyDir := filepath.Join(dir, "acme"), filepath.Join(dir, "copy")
	o, err := owner.Parse(fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ACME: &acme.Config{Issuer: acme.IssuerLocal, Domains: []string{"localhost"}, Out: out}, CopyTo: copyDir, Owner: o}
	for _, issued := range []string{"true", "false"} {
		logs, err := initLogged(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		requireRecord(t, logs, testutil.All(testutil.Message("certificate"), testutil.HasAttr("domain", "localhost"), testutil.HasAttr("issued", issued)))
	}
	for _, p := range []string{filepath.Join(out, "privkey.pem"), filepath.Join(copyDir, "privkey.pem")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o640 {
			t.Fatalf("%s: %v, err %v; want mode 0640", p, fi, err)
		}
	}
	if cfg.ACME.Owner != nil {
		t.Error("Init changed the Config it was given")
	}
}

// TestChangedSincePrepare: what changed between the preparation and the
// watcher's baseline is reloaded: the checked pair when its bytes differ
// (a renewal), a --trust file whose bytes differ from the installed ones.
func TestChangedSincePrepare(t *testing.T) {
	dir := t.TempDir()
	pairs := newPairFactory(t)
	cert, key := pairs.next()
	f := reload.Files{Cert: testutil.WriteFile(t, dir, "fullchain.pem", cert), Key: testutil.WriteFile(t, dir, "privkey.pem", key)}
	trust := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(pairs.ca.Cert))
	snap, err := reload.Load(f, []string{trust}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := &state{cfg: Config{Cert: f.Cert, Key: f.Key, Trust: []string{trust}}, files: f, snap: snap,
		trustRead: map[string][]byte{trust: testutil.CertPEM(pairs.ca.Cert)}}
	check := func(what string, want ...string) {
		t.Helper()
		if got := s.changedSincePrepare(); !slices.Equal(got, want) {
			t.Fatalf("%s: changed %q, want %q", what, got, want)
		}
	}
	check("nothing changed")
	testutil.RenameOver(t, f.Cert, cert) // same bytes
	check("same bytes rewritten")
	newCert, newKey := pairs.next()
	testutil.RenameOver(t, f.Key, newKey)
	check("key renewed", f.Cert, f.Key)
	testutil.RenameOver(t, f.Cert, newCert)
	testutil.RenameOver(t, trust, append(testutil.CertPEM(pairs.ca.Cert), testutil.CertPEM(testutil.NewCA(t, "second CA").Cert)...))
	check("pair renewed and a CA added", f.Cert, f.Key, trust)
}

// TestWatchPaths: run watches the pair, the trust files, the rehash
// directories and the --watch and --restart-on paths, each once, the pair
// apart from the others; not the ACME output, which it writes itself.
func TestWatchPaths(t *testing.T) {
	cfg := Config{Cert: "/p/cert.pem", Key: "/p/key.pem", Trust: []string{"/t/ca.pem"}, Rehash: []string{"/capath"},
		Watch: []string{"/conf", "/p/cert.pem"}, RestartOn: []string{"/t/ca.pem", "/clients.pem"}}
	s := &state{cfg: cfg, files: cfg.pair()}
	want := []string{"/p/cert.pem", "/p/key.pem", "/t/ca.pem", "/capath", "/conf", "/clients.pem"}
	if pair, others := s.watchPaths(); !slices.Equal(slices.Concat(pair, others), want) || len(pair) != 2 {
		t.Fatalf("watchPaths = %q and %q, want %q with the first two apart", pair, others, want)
	}
	iss, err := acme.New(acme.Config{Issuer: acme.IssuerLocal, Domains: []string{"localhost"}, Out: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s = &state{cfg: Config{ACME: &acme.Config{Out: "/out"}, Watch: []string{"/conf"}}, issuer: iss}
	s.files = s.cfg.pair()
	if pair, others := s.watchPaths(); len(pair) != 0 || !slices.Equal(others, []string{"/conf"}) {
		t.Fatalf("with ACME: watchPaths = %q and %q, want only /conf", pair, others)
	}
}

// TestInitPairChainsToARoot: the pair's chain must reach a self-signed
// root of the --trust files (or the store), as OpenSSL's clients need. An
// intermediate installed with --allow-partial-chain anchors nothing: init
// refuses a leaf it issued, as `openssl verify -CAfile` with that
// intermediate does, and accepts it once the root is the --trust file.
func TestInitPairChainsToARoot(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	root := testutil.NewCA(t, "partial root")
	inter := root.Intermediate(t, "partial intermediate")
	leaf, key := inter.Issue(t, testutil.Localhost())
	cert := testutil.WriteFile(t, dir, "fullchain.pem", testutil.CertPEM(leaf, inter.Cert))
	keyFile := testutil.WriteFile(t, dir, "privkey.pem", testutil.KeyPEM(t, key))
	leafFile := testutil.WriteFile(t, dir, "leaf.pem", testutil.CertPEM(leaf))
	interFile := testutil.WriteFile(t, dir, "inter.pem", testutil.CertPEM(inter.Cert))
	rootFile := testutil.WriteFile(t, dir, "root.pem", testutil.CertPEM(root.Cert))
	for _, tc := range []struct {
		name, trust string
		trusted     bool // what the row is for; openssl verify decides
	}{
		{"intermediate", interFile, false},
		{"root", rootFile, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := testutil.OpenSSLVerify(t, leafFile, testutil.VerifyFiles{CAfile: tc.trust, Untrusted: interFile, Purpose: "sslserver"})
			if ref.OK != tc.trusted {
				t.Fatalf("the fixture does not make the case: openssl verify: %s", ref.Output)
			}
			_, err := initLogged(t, Config{Trust: []string{tc.trust}, AllowPartialChain: true, TrustStore: "auto",
				Root: t.TempDir(), Cert: cert, Key: keyFile})
			if ref.OK {
				if err != nil {
					t.Fatalf("openssl verify says OK, init: %v", err)
				}
				return
			}
			var ve *verify.Error
			if !errors.Is(err, reload.ErrChain) || !errors.As(err, &ve) || int(ve.Code) != ref.Code || ve.Depth != ref.Depth {
				t.Fatalf("init: %v\nopenssl verify: %s", err, ref.Output)
			}
		})
	}
}
