package hashlink

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/testutil"
)

// TestRehashHugeFile: a 100 MB file named *.pem is skipped with a warning
// without being read: bounded time and memory, exit 0, and the other
// certificates linked. certinit hash on it is one clear error.
func TestRehashHugeFile(t *testing.T) {
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "ca.pem", certPEM(t, s, cnName("Beside a huge file"), 1))
	huge := filepath.Join(dir, "huge.pem")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// 100 MB of PEM-looking text, so that a reader that does not check the
	// size would have to parse it all.
	block := bytes.Repeat([]byte("-----BEGIN CERTIFICATE-----\n"+strings.Repeat("QUFB", 16)+"\n"), 1<<10)
	for written := 0; written < 100<<20; written += len(block) {
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	cmd := testutil.CertinitCommand(t, "rehash", dir)
	rss := testutil.PeakRSS(t, cmd)
	r := testutil.Run(t, cmd)
	t.Logf("rehash: exit %d in %v, peak RSS %d KiB", r.Code, r.Took, rss())
	if r.Code != 0 || !warned(r, huge) {
		t.Errorf("exit %d, want 0 and a skip warning naming huge.pem:\n%s", r.Code, r.Stderr)
	}
	if r.Took > 10*time.Second || rss() > 48<<10 {
		t.Errorf("took %v and %d KiB: the huge file was read", r.Took, rss())
	}
	if links := hashLinks(t, dir); len(links) != 1 {
		t.Errorf("links %v, want the one for ca.pem", links)
	}
	r = testutil.RunCertinit(t, "hash", huge)
	if lines := r.Logs.Lines(); r.Code != 1 || len(lines) != 1 || strings.Count(lines[0], huge) != 1 || !strings.Contains(lines[0], "larger than") {
		t.Errorf("certinit hash on a 100 MB file: exit %d, want 1 and one line naming it:\n%s", r.Code, r.Stderr)
	}
}

// TestHugeBundle: a PEM file with 100,000 certificates (5,000 in the
// default run) parses completely and quickly in ParseObjects; certinit
// rehash skips it as a bundle (openssl does too) after reading two, and
// certinit hash says how many it holds.
func TestHugeBundle(t *testing.T) {
	n := testutil.Scale(5000, 100000)
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range n {
		buf.Write(certPEM(t, s, cnName(fmt.Sprintf("Bundle CA %d", i)), int64(i+1)))
	}
	start := time.Now()
	objs, err := ParseObjects(buf.Bytes())
	took := time.Since(start)
	if err != nil || len(objs) != n {
		t.Fatalf("ParseObjects: %d objects, %v; want %d", len(objs), err, n)
	}
	t.Logf("ParseObjects: %d certificates (%d MiB) in %v", n, buf.Len()>>20, took)
	if took > time.Duration(n)*time.Millisecond+2*time.Second { // linear, with room for -race
		t.Errorf("ParseObjects took %v for %d certificates", took, n)
	}
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "bundle.pem", buf.Bytes())
	testutil.WriteFile(t, dir, "single.pem", certPEM(t, s, cnName("Single CA"), int64(n+1)))
	if testutil.Scale(1, 0) == 1 {
		compareRehash(t, dir, Options{}) // openssl reads the whole bundle: default run only
	}
	r := testutil.RunCertinit(t, "rehash", dir)
	t.Logf("certinit rehash beside the bundle: exit %d in %v", r.Code, r.Took)
	if r.Code != 0 || !warned(r, filepath.Join(dir, "bundle.pem")) {
		t.Errorf("exit %d, want 0 and a warning naming bundle.pem:\n%s", r.Code, r.Stderr)
	}
	if links := hashLinks(t, dir); len(links) != 1 {
		t.Errorf("links %v, want the one for single.pem", links)
	}
	r = testutil.RunCertinit(t, "hash", filepath.Join(dir, "bundle.pem"))
	if r.Code != 1 || !strings.Contains(r.Stderr, fmt.Sprintf("holds %d certificates", n)) || r.Took > 30*time.Second {
		t.Errorf("certinit hash on the bundle: exit %d after %v:\n%s", r.Code, r.Took, r.Stderr)
	}
}

// TestLongSubject: certificates whose subject is about 64 KiB (one huge
// common name, or thousands of RDNs) hash exactly as openssl hashes them
// when openssl loads them, are refused when it does not, and get openssl's
// links.
func TestLongSubject(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	var rdns []cg.RDN
	for i := range 2000 {
		rdns = append(rdns, cg.Simple(cg.OIDOrgUnit, cg.TagPrintableString, fmt.Sprintf("Unit %026d", i)))
	}
	subjects := map[string][]byte{
		"one-cn.pem":     cnName(strings.Repeat("Long Subject ", 64<<10/13)),
		"many-rdns.pem":  cg.Name(rdns...),
		"bmp-64k.pem":    cg.Name(cg.RDN{{OID: cg.OIDCommonName, Tag: cg.TagBMPString, Value: cg.BMP(strings.Repeat("Ω  x", 8<<10))}}),
		"printable.pem":  cg.Name(cg.Simple(cg.OIDCommonName, cg.TagPrintableString, strings.Repeat("A B", 22<<10))),
		"universal.pem":  cg.Name(cg.RDN{{OID: cg.OIDCommonName, Tag: cg.TagUniversalString, Value: cg.Universal(strings.Repeat("z", 16<<10))}}),
		"just-under.pem": cnName(strings.Repeat("x", 64<<10-20)),
	}
	dir := t.TempDir()
	serial := int64(0)
	for name, subj := range subjects {
		if len(subj) < 60<<10 {
			t.Fatalf("%s: subject of only %d bytes", name, len(subj))
		}
		serial++
		p := testutil.WriteFile(t, dir, name, certPEM(t, s, subj, serial))
		out, err := exec.Command(openssl, "x509", "-noout", "-subject_hash", "-subject_hash_old", "-in", p).Output()
		obj, herr := HashFile(p)
		if err != nil {
			if herr == nil {
				t.Errorf("%s: openssl refuses it, certinit hashes it", name)
			}
			continue
		}
		if herr != nil {
			t.Errorf("%s: openssl hashes it, certinit: %v", name, herr)
			continue
		}
		if got := FormatHash(obj.Hash) + "\n" + FormatHash(obj.HashOld) + "\n"; got != string(out) {
			t.Errorf("%s: hashes %q, openssl %q", name, got, out)
		}
	}
	if _, err := compareRehash(t, dir, Options{}); err != nil {
		t.Error(err)
	}
}
