package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// Tests of run and init with --trust, --rehash and --acme-*: real
// Mosquitto, real mosquitto_pub/mosquitto_sub and openssl.

// TestRunTrustCapath: run installs the CA into a dir: store and hashes it,
// and clients that know the broker only through that capath connect.
func TestRunTrustCapath(t *testing.T) {
	b := newBroker(t)
	cert, key, serial := b.issue(testutil.CertOpts{})
	certPath, keyPath := testutil.WriteFile(t, b.dir, "server.pem", cert), testutil.WriteFile(t, b.dir, "server-key.pem", key)
	capath := filepath.Join(b.dir, "capath")
	b.writeConf(certPath, keyPath, true)
	b.start("--trust", b.caFile, "--trust-store", "dir:"+capath, "--cert", certPath, "--key", keyPath)
	b.waitServed(serial, 10*time.Second)

	link := filepath.Join(capath, subjectHash(t, b.caFile)+".0")
	if _, err := os.Stat(link); err != nil {
		t.Fatalf("no hash link for the CA: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := capathClient(ctx, b, capath, "mosquitto_pub", "-r", "-m", "via capath").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub --capath: %v: %s", err, out)
	}
	out, err := capathClient(ctx, b, capath, "mosquitto_sub", "-C", "1", "-W", "10").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "via capath" {
		t.Fatalf("mosquitto_sub --capath: %v: %q", err, out)
	}
}

// TestInitTrustRoot: init builds a Debian-style store in an empty root
// (scratch, distroless); a bad trust file exits 1 with one line naming it
// and leaves the store byte for byte as it was, even next to a good file.
func TestInitTrustRoot(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	dir, root := t.TempDir(), t.TempDir()
	ca := testutil.NewCA(t, "init trust CA")
	caFile := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(ca.Cert))
	if code, _, stderr := runCLI(t, "init", "--trust", caFile, "--root", root); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	bundle, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil || !bytes.Contains(bundle, testutil.CertPEM(ca.Cert)) {
		t.Fatalf("bundle does not hold the CA (err %v)", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/ssl/certs", subjectHash(t, caFile)+".0")); err != nil {
		t.Fatalf("no hash link: %v", err)
	}
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
	before := tree(t, root)
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "init", "--trust", good, "--trust", tc.file, "--root", root)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], tc.file) || !strings.Contains(lines[0], tc.words) {
				t.Fatalf("exit %d, stderr %q; want 1 and one line naming %s and saying %q", code, stderr, tc.file, tc.words)
			}
			if after := tree(t, root); after != before {
				t.Fatalf("store changed:\n%s\nwas:\n%s", after, before)
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
	if code, _, stderr := runCLI(t, "init", "--trust", publicFile, "--root", root); code != 0 {
		t.Fatalf("OS store: exit %d: %s", code, stderr)
	}
	bridgeFile := testutil.WriteFile(t, dir, "bridge.pem", testutil.CertPEM(bridge.Cert))
	for _, tc := range []struct {
		name   string
		issuer *testutil.CA
		code   int
	}{{"public certificate", public, 0}, {"bridge CA certificate", bridge, 0}, {"unknown CA", stranger, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			c, k := tc.issuer.Issue(t, testutil.CertOpts{})
			sub := t.TempDir()
			cert, key := testutil.WriteFile(t, sub, "fullchain.pem", testutil.CertPEM(c)), testutil.WriteFile(t, sub, "privkey.pem", testutil.KeyPEM(t, k))
			code, _, stderr := runCLI(t, "init", "--root", root, "--trust", bridgeFile, "--trust-store", "dir:/capath", "--cert", cert, "--key", key)
			if code != tc.code || (code != 0 && !strings.Contains(stderr, cert+": chain does not verify")) {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
		})
	}
}

// TestRunLocalIssuerRenewal: run obtains a certificate from the local
// issuer, renews it in-process (a 4 s lifetime enters its renewal window
// after about 2.3 s) and reloads the broker, which then serves the new
// serial, while a subscriber connected before keeps its connection.
func TestRunLocalIssuerRenewal(t *testing.T) {
	b := newBroker(t)
	out := filepath.Join(b.dir, "acme")
	b.writeConf(filepath.Join(out, "fullchain.pem"), filepath.Join(out, "privkey.pem"), true)
	b.start("--acme-issuer", "local", "--acme-domain", "localhost", "--acme-domain", "127.0.0.1", "--acme-out", out,
		"--acme-local-validity", "4s", "--acme-renew-before", "30d")
	b.caFile = filepath.Join(out+".cache", "local", "ca.pem")
	first := b.waitServing(10 * time.Second)

	sub := b.subscribe()
	b.publish("before")
	waitText(t, sub.out, "certinit/test before", 10*time.Second)
	now := b.waitServing(time.Second)
	start := time.Now()
	var renewed *big.Int
	for renewed == nil {
		if got, err := b.served(); err == nil && got.Cmp(now) != 0 && got.Cmp(first) != 0 {
			renewed = got
		} else if time.Since(start) > 10*time.Second {
			t.Fatalf("still serving %x (first %x) 10 s later: %v", got, first, err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	b.waitLog(`msg=renewed`, 1)
	b.waitLog("Reloading config", 1)
	b.publish("after")
	waitText(t, sub.out, "certinit/test after", 10*time.Second)
	if n := sub.connects(); n != 1 {
		t.Fatalf("subscriber connected %d times; the reload dropped it", n)
	}
	if pids := b.childPIDs(); len(pids) != 1 {
		t.Fatalf("broker started %d times; a renewal must reload, not restart", len(pids))
	}
}

// TestRunTrustChangesAndRehashDir: a changed --trust file is installed
// again (a CA it gained is added to the store, one it lost removed), a
// CA file added to a --rehash directory gets its link, each is one reload,
// and the links certinit writes into the watched directory do not make it
// reload again.
func TestRunTrustChangesAndRehashDir(t *testing.T) {
	b := newBroker(t)
	cert, key, serial := b.issue(testutil.CertOpts{})
	certPath, keyPath := testutil.WriteFile(t, b.dir, "server.pem", cert), testutil.WriteFile(t, b.dir, "server-key.pem", key)
	trust := testutil.WriteFile(t, filepath.Join(b.dir, "trust"), "ca.pem", testutil.CertPEM(b.ca.Cert))
	capath, peers := filepath.Join(b.dir, "capath"), filepath.Join(b.dir, "peers")
	peer1 := testutil.WriteFile(t, peers, "peer1.pem", testutil.CertPEM(testutil.NewCA(t, "peer 1").Cert))
	marker := testutil.WriteFile(t, b.dir, "marker", []byte("0"))
	b.writeConf(certPath, keyPath, true)
	b.start("--trust", trust, "--trust-store", "dir:"+capath, "--rehash", peers, "--watch", marker,
		"--cert", certPath, "--key", keyPath, "--debounce", "100ms", "--poll", "200ms")
	b.waitServed(serial, 10*time.Second)
	requireLink(t, peers, peer1, true)

	ca2 := testutil.NewCA(t, "second trust CA")
	second := testutil.WriteFile(t, b.dir, "second.pem", testutil.CertPEM(ca2.Cert))
	testutil.RenameOver(t, trust, append(testutil.CertPEM(b.ca.Cert), testutil.CertPEM(ca2.Cert)...))
	b.waitReload(1, trust)
	requireLink(t, capath, second, true)

	testutil.RenameOver(t, trust, testutil.CertPEM(b.ca.Cert))
	b.waitReload(2, trust)
	requireLink(t, capath, second, false)
	requireLink(t, capath, b.caFile, true)

	// Written beside, then renamed in: one step in the watched directory.
	peer2 := filepath.Join(peers, "peer2.pem")
	if err := os.Rename(testutil.WriteFile(t, b.dir, "peer2.pem", testutil.CertPEM(testutil.NewCA(t, "peer 2").Cert)), peer2); err != nil {
		t.Fatal(err)
	}
	b.waitReload(3, peers)
	requireLink(t, peers, peer2, true)
	// The watcher saw the links appear (events come in order); a change
	// made after that is scanned together with, or after, the rehashed
	// directory: had the links changed its fingerprint, the directory
	// would be in this reload or in one more.
	b.waitLog(fmt.Sprintf("path=%s.0", filepath.Join(peers, subjectHash(t, peer2))), 1)
	testutil.RenameOver(t, marker, []byte("1"))
	b.waitReload(4, marker)
	if n := strings.Count(b.logs.String(), "msg=reloading"); n != 4 {
		t.Fatalf("%d reloads, want 4", n)
	}
	b.waitServed(serial, time.Second)
}

// TestRunIntegrateUsage: the integration options' mistakes exit 2 before
// anything is written; a --rehash directory that is not there exits 1.
func TestRunIntegrateUsage(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestPair(t, dir, "cert.pem", "key.pem")
	out, missing := filepath.Join(dir, "out"), filepath.Join(dir, "missing")
	local := []string{"--acme-issuer", "local", "--acme-domain", "localhost", "--acme-out", out}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"trust-store without trust", []string{"init", "--trust-store", "debian"}, 2, "--trust-store applies to --trust"},
		{"unknown trust store", []string{"init", "--trust", cert, "--trust-store", "gentoo"}, 2, "--trust-store: unknown store"},
		{"acme option without domain", []string{"init", "--acme-out", out}, 2, "--acme-out configures --acme-domain"},
		{"acme without out", []string{"init", "--acme-issuer", "local", "--acme-domain", "localhost"}, 2, "--acme-out is required"},
		{"cert with acme", append([]string{"init", "--cert", cert, "--key", key}, local...), 2, "--cert and --acme-domain exclude each other"},
		{"exec with acme", append(append([]string{"run", "--exec"}, local...), "--", "true"), 2, "--exec"},
		{"bad issuer", []string{"init", "--acme-issuer", "self", "--acme-domain", "localhost", "--acme-out", out}, 2, "issuer"},
		{"missing rehash directory", []string{"init", "--rehash", missing}, 1, missing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q should contain %q", code, tc.code, stderr, tc.stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("%s was created", out)
			}
		})
	}
}

// TestInitLocalIssuer: init obtains from the local issuer; --owner owns
// the ACME output and the copies (key 0640 with a group), and the pair
// verifies to the local CA.
func TestInitLocalIssuer(t *testing.T) {
	dir := t.TempDir()
	out, copyDir := filepath.Join(dir, "acme"), filepath.Join(dir, "copy")
	ownerSpec := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	args := []string{"init", "--acme-issuer", "local", "--acme-domain", "localhost", "--acme-out", out,
		"--copy-to", copyDir, "--owner", ownerSpec}
	code, _, stderr := runCLI(t, args...)
	if code != 0 || !strings.Contains(stderr, "issued=true") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, p := range []string{filepath.Join(out, "privkey.pem"), filepath.Join(copyDir, "privkey.pem")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o640 {
			t.Fatalf("%s: %v, err %v; want mode 0640", p, fi, err)
		}
	}
	if code, _, stderr = runCLI(t, args...); code != 0 || !strings.Contains(stderr, "issued=false") {
		t.Fatalf("second init: exit %d: %s", code, stderr)
	}
}

// waitServing polls until the broker serves a certificate that verifies
// to b.caFile and returns its serial.
func (b *broker) waitServing(within time.Duration) *big.Int {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s, err := b.served()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("broker serves nothing that verifies within %s: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

var reloadLine = regexp.MustCompile(`msg=reloading signal=\w+ changed=\[?([^\]\n]*)\]?`)

// waitReload waits for the n-th reload and checks it was for path alone.
func (b *broker) waitReload(n int, path string) {
	b.t.Helper()
	b.waitLog("msg=reloading", n)
	m := reloadLine.FindAllStringSubmatch(b.logs.String(), -1)
	if len(m) != n || strings.TrimSpace(m[n-1][1]) != path {
		b.t.Fatalf("reload %d of %d was for %q, want exactly %s", n, len(m), m[len(m)-1][1], path)
	}
}

// capathClient runs a Mosquitto client that trusts the broker only
// through capath.
func capathClient(ctx context.Context, b *broker, capath, tool string, args ...string) *exec.Cmd {
	path := testutil.RequireTool(b.t, tool)
	base := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "--capath", capath, "-t", "certinit/capath"}
	return exec.CommandContext(ctx, path, append(base, args...)...)
}

// subjectHash is openssl's subject hash of the first certificate in file.
func subjectHash(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "openssl"), "x509", "-noout", "-subject_hash", "-in", file).Output()
	if err != nil {
		t.Fatalf("openssl x509 -subject_hash %s: %v", file, err)
	}
	return strings.TrimSpace(string(out))
}

// requireLink checks that dir has (or has not) a hash link for the
// certificate in file.
func requireLink(t *testing.T, dir, file string, want bool) {
	t.Helper()
	link := filepath.Join(dir, subjectHash(t, file)+".0")
	_, err := os.Lstat(link)
	if (err == nil) != want {
		t.Fatalf("%s: exists %v, want %v", link, err == nil, want)
	}
}

// tree describes every entry under root: links with their targets, files
// with a hash of their content.
func tree(t *testing.T, root string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&sb, "%s -> %s\n", rel, target)
		case d.IsDir():
			fmt.Fprintf(&sb, "%s/\n", rel)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(&sb, "%s %s\n", rel, hex.EncodeToString(sum[:8]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}
