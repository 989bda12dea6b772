package probe

import (
	"crypto/tls"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// advisedCommand finds "run certinit ARGS, ..." in text.
var advisedCommand = regexp.MustCompile(`run certinit ([^,;]+)`)

// TestCapathBundleAdvice: a file holding root and intermediate in a
// capath, which openssl rehash skips. Probe and check name the command
// that fixes the directory, the dir: store's rebuild (a rehash would skip
// the file again); the test runs exactly that command with the certinit
// binary, and then probe, check and openssl s_client all accept the
// directory.
func TestCapathBundleAdvice(t *testing.T) {
	p := newPKI(t, "Bundle")
	addr := testutil.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{p.serverPair(t, testutil.Localhost())}})
	dir := filepath.Join(t.TempDir(), "capath")
	testutil.WriteFile(t, dir, "chain.pem", testutil.CertPEM(p.root.Cert, p.inter.Cert))
	testutil.OpenSSLRehashCode(t, dir) // skips the file: it holds two certificates
	files := testutil.VerifyFiles{CApath: dir}
	if v := testutil.OpenSSLConnect(t, addr, "localhost", files); v.OK {
		t.Fatalf("openssl s_client accepts a capath with only a bundle:\n%s", v.Output)
	}

	rep := run(t, Options{Address: addr, ServerName: "localhost", CAPath: dir})
	expect(t, rep, VerdictUnknownAuthority, "chain.pem holds", "certinit trust rebuild --store dir:"+dir)
	probs, err := Check(CheckOptions{CAPath: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, "certinit trust rebuild --store dir:"+dir) {
		t.Fatalf("check --capath: want one problem naming the rebuild, got:\n%s", problemLines(probs))
	}
	var advice []string
	for _, text := range append(rep.Diagnosis, probs[0].Msg) {
		if m := advisedCommand.FindStringSubmatch(text); m != nil {
			advice = append(advice, m[1])
		}
	}
	if len(advice) != 2 || advice[0] != advice[1] || strings.Contains(advice[0], "rehash") {
		t.Fatalf("probe and check advise %q, want the same command, and not a rehash", advice)
	}

	res := testutil.RunCertinit(t, strings.Fields(advice[0])...)
	if res.Code != 0 {
		t.Fatalf("certinit %s: %s", advice[0], res)
	}
	expect(t, run(t, Options{Address: addr, ServerName: "localhost", CAPath: dir}), VerdictOK)
	if probs, err := Check(CheckOptions{CAPath: dir}); err != nil || len(probs) > 0 {
		t.Errorf("check --capath after the rebuild: %v\n%s", err, problemLines(probs))
	}
	if v := testutil.OpenSSLConnect(t, addr, "localhost", files); !v.OK {
		t.Errorf("openssl s_client -CApath refuses the rebuilt directory:\n%s", v.Output)
	}
}
