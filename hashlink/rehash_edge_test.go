package hashlink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/testutil"
)

// writeCerts writes one PEM certificate per common name into dir, named
// <prefix><i>.pem, and returns the subject hash of the first.
func writeCerts(t *testing.T, dir, prefix string, cns ...string) string {
	t.Helper()
	s, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for i, cn := range cns {
		der, err := s.Certificate(cg.Cert{Subject: cg.Name(cg.Simple(cg.OIDCommonName, cg.TagUTF8String, cn)), Serial: int64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := testutil.WriteFile(t, dir, fmt.Sprintf("%s%03d.pem", prefix, i), cg.PEM("CERTIFICATE", der))
		if i == 0 {
			obj, err := HashFile(p)
			if err != nil {
				t.Fatal(err)
			}
			first = FormatHash(obj.Hash)
		}
	}
	return first
}

// TestRehashCollisionLimit: 257 certificates with one subject get links
// .0 to .255 and an error, in both tools.
func TestRehashCollisionLimit(t *testing.T) {
	dir := t.TempDir()
	cns := make([]string, maxCollisions+1)
	for i := range cns {
		cns[i] = "Same Subject"
	}
	writeCerts(t, dir, "c", cns...)
	res, err := compareRehash(t, dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "more than 256 certificates or CRLs with hash") || !strings.Contains(err.Error(), "c256.pem") {
		t.Errorf("error %v: want one naming the 257th file and the limit", err)
	}
	if len(res.Links) != maxCollisions {
		t.Errorf("%d links, want %d", len(res.Links), maxCollisions)
	}
}

// TestRehashOddLinkNames: names OpenSSL's handle_symlink takes for hash
// links although they are not what it writes (upper case, no number,
// leading zeros, a sign) are treated the same way.
func TestRehashOddLinkNames(t *testing.T) {
	dir := t.TempDir()
	h := writeCerts(t, dir, "x", "Odd Names", "Other")
	upper := []byte(h)
	for i, c := range upper {
		if c >= 'a' && c <= 'f' {
			upper[i] = c - 'a' + 'A'
		}
	}
	for name, target := range map[string]string{
		string(upper) + ".0": "x000.pem",
		h + ".":              "gone1.pem",
		h + ".07":            "x000.pem",
		h + ".+1":            "gone2.pem",
		h + ".R0":            "gone.crl",
		h + ".65535":         "gone3.pem",
		"0000000g.0":         "x001.pem",
		h + ".1x":            "x001.pem",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range []Options{{}, {NoRemove: true}} {
		t.Run(fmt.Sprint(opensslArgs(opts)), func(t *testing.T) {
			if _, err := compareRehash(t, dir, opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRehashStaleLinkInUsedSlot is the one place certinit deliberately
// differs: OpenSSL keeps a dangling HASH.0 when one certificate with that
// hash exists, and links the certificate as HASH.1, where OpenSSL's own
// capath lookup never gets to it (it stops at the first HASH.N that does not
// load). certinit re-points HASH.0 at the certificate. With -n both keep
// the old link.
func TestRehashStaleLinkInUsedSlot(t *testing.T) {
	dir := t.TempDir()
	h := writeCerts(t, dir, "ca", "Stale Slot")
	if err := os.Symlink("removed.pem", filepath.Join(dir, h+".0")); err != nil {
		t.Fatal(err)
	}
	ref := t.TempDir()
	copyDir(t, dir, ref)
	opensslRehash(t, ref)
	want := []string{h + ".0 -> removed.pem", h + ".1 -> ca000.pem"}
	if got := symlinks(t, ref); !slices.Equal(got, want) {
		t.Fatalf("openssl no longer keeps the stale link (docs/hash.md needs updating): %q", got)
	}
	ours := t.TempDir()
	copyDir(t, dir, ours)
	if _, err := Rehash(ours, Options{Log: testLog(t)}); err != nil {
		t.Fatal(err)
	}
	if got := symlinks(t, ours); !slices.Equal(got, []string{h + ".0 -> ca000.pem"}) {
		t.Errorf("links %q, want only %s.0 -> ca000.pem", got, h)
	}
	if _, err := compareRehash(t, dir, Options{NoRemove: true}); err != nil {
		t.Fatal(err)
	}
}

// TestRehashNoMissingLink re-points a link many times while another
// goroutine watches its name: it must never be missing. (OpenSSL unlinks
// the old link and then creates the new one.)
func TestRehashNoMissingLink(t *testing.T) {
	dir := t.TempDir()
	h := writeCerts(t, dir, "ca", "Always There")
	link := filepath.Join(dir, h+".0")
	if err := os.Symlink("ca000.pem", link); err != nil {
		t.Fatal(err)
	}
	var missing, checks atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
				missing.Add(1)
			}
			checks.Add(1)
		}
	}()
	for i := range 300 {
		// Point the link elsewhere (a stale link), then let Rehash repair it.
		tmp := filepath.Join(dir, fmt.Sprintf("tmp%d", i))
		if err := os.Symlink("elsewhere.pem", tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
		res, err := Rehash(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Added) != 1 {
			t.Fatalf("run %d: added %v", i, res.Added)
		}
	}
	close(stop)
	wg.Wait()
	if target, _ := os.Readlink(link); target != "ca000.pem" {
		t.Errorf("link points to %q", target)
	}
	if missing.Load() > 0 {
		t.Errorf("the link was missing %d times in %d checks", missing.Load(), checks.Load())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("leftover entries: %v", ents)
	}
}

func TestRehashErrors(t *testing.T) {
	if _, err := Rehash(filepath.Join(t.TempDir(), "missing"), Options{}); err == nil {
		t.Error("no error for a missing directory")
	}
	file := testutil.WriteFile(t, t.TempDir(), "f.pem", []byte("x"))
	if _, err := Rehash(file, Options{}); err == nil {
		t.Error("no error for a file given as directory")
	}
}

func TestParseLinkName(t *testing.T) {
	tests := []struct {
		name string
		typ  linkType
		hash uint32
		id   uint16
		ok   bool
	}{
		{"e6dddb6d.0", typeCert, 0xe6dddb6d, 0, true},
		{"E6DDDB6D.12", typeCert, 0xe6dddb6d, 12, true},
		{"e6dddb6d.r3", typeCRL, 0xe6dddb6d, 3, true},
		{"e6dddb6d.R3", typeCRL, 0xe6dddb6d, 3, true},
		{"e6dddb6d.", typeCert, 0xe6dddb6d, 0, true},
		{"e6dddb6d.r", typeCRL, 0xe6dddb6d, 0, true},
		{"e6dddb6d. 7", typeCert, 0xe6dddb6d, 7, true},
		{"e6dddb6d.-1", typeCert, 0xe6dddb6d, 0xffff, true},
		{"e6dddb6d.65536", typeCert, 0xe6dddb6d, 0, true},
		{"e6dddb6d.99999999999999999999999", typeCert, 0xe6dddb6d, 0xffff, true},
		{"e6dddb6d.0.pem", 0, 0, 0, false},
		{"e6dddb6d. ", 0, 0, 0, false},
		{"e6dddb6d.x", 0, 0, 0, false},
		{"e6dddb6g.0", 0, 0, 0, false},
		{"e6dddb6d0", 0, 0, 0, false},
		{"e6dddb.0", 0, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, ok := ParseLinkName(tc.name)
			k, id := keyOf(ln), ln.ID
			if ok != tc.ok || (ok && (k.typ != tc.typ || k.hash != tc.hash || id != tc.id)) {
				t.Errorf("ParseLinkName = %v %d %v, want %v %08x %d %v", k, id, ok, tc.typ, tc.hash, tc.id, tc.ok)
			}
		})
	}
}
