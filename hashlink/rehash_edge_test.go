package hashlink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		p := testutil.WriteFile(t, dir, fmt.Sprintf("%s%03d.pem", prefix, i), certPEM(t, s, cnName(cn), int64(i+1)))
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
// .0 to .255; the 257th gets none and is an error naming it, in both tools
// (exit status 1), and the other links are still made.
func TestRehashCollisionLimit(t *testing.T) {
	dir := t.TempDir()
	cns := make([]string, MaxCollisions+1)
	for i := range cns {
		cns[i] = "Same Subject"
	}
	writeCerts(t, dir, "c", cns...)
	ref := t.TempDir()
	testutil.CopyTree(t, dir, ref)
	if code := testutil.OpenSSLRehashCode(t, ref); code != 1 {
		t.Errorf("openssl rehash exit status %d, want 1", code)
	}
	res, err := compareRehash(t, dir, Options{})
	if !errors.Is(err, ErrTooManyCollisions) || !strings.Contains(err.Error(), "c256.pem") {
		t.Errorf("error %v: want ErrTooManyCollisions naming the 257th file", err)
	}
	if len(res.Links) != MaxCollisions {
		t.Errorf("%d links, want %d", len(res.Links), MaxCollisions)
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

// TestRehashStaleLinks: links whose number is below the count of files
// that need one are kept whatever they point at (dangling, a file no
// longer a certificate), and the certificates get the numbers after them,
// exactly as openssl rehash does. Stale links above that count are removed
// in OpenSSL's order: before a certificate takes the name when the links
// sort first, after it (so the certificate ends up without that link) when
// the certificate files sort first. With -n every old link stays.
func TestRehashStaleLinks(t *testing.T) {
	for _, prefix := range []string{"ca", "0ca"} {
		dir := t.TempDir()
		h := writeCerts(t, dir, prefix, "Stale Slot", "Stale Slot", "Stale Slot")
		if h[0] >= 'c' {
			t.Fatalf("hash %s: the certificate files no longer sort after the links", h)
		}
		testutil.WriteFile(t, dir, "zz-not-a-cert.pem", []byte("not PEM"))
		for name, target := range map[string]string{
			h + ".0": "removed.pem",       // dangling, kept
			h + ".1": "zz-not-a-cert.pem", // no longer a certificate, kept
			h + ".3": "gone.pem",          // above the count of 3: removed
			h + ".4": "gone-too.pem",
		} {
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		for _, opts := range []Options{{}, {NoRemove: true}} {
			t.Run(fmt.Sprint(prefix, opensslArgs(opts)), func(t *testing.T) {
				if _, err := compareRehash(t, dir, opts); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestRehashNoMissingLink re-points a link many times while another
// goroutine watches its name: it must never be missing. (OpenSSL unlinks
// the old link and then creates the new one.) The link re-pointed is a
// second link to the first certificate, at the name the second one needs.
func TestRehashNoMissingLink(t *testing.T) {
	dir := t.TempDir()
	h := writeCerts(t, dir, "ca", "Always There", "Always There")
	if _, err := Rehash(t.Context(), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, h+".1")
	if target, _ := os.Readlink(link); target != "ca001.pem" {
		t.Fatalf("%s points to %q", link, target)
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
		// Point the link at the other certificate, then let Rehash repair it.
		tmp := filepath.Join(dir, fmt.Sprintf("tmp%d", i))
		if err := os.Symlink("ca000.pem", tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
		res, err := Rehash(t.Context(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Added) != 1 {
			t.Fatalf("run %d: added %v", i, res.Added)
		}
	}
	close(stop)
	wg.Wait()
	if target, _ := os.Readlink(link); target != "ca001.pem" {
		t.Errorf("link points to %q", target)
	}
	if missing.Load() > 0 {
		t.Errorf("the link was missing %d times in %d checks", missing.Load(), checks.Load())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 4 {
		t.Errorf("leftover entries: %v", ents)
	}
}

func TestRehashErrors(t *testing.T) {
	if _, err := Rehash(t.Context(), filepath.Join(t.TempDir(), "missing"), Options{}); err == nil {
		t.Error("no error for a missing directory")
	}
	file := testutil.WriteFile(t, t.TempDir(), "f.pem", []byte("x"))
	if _, err := Rehash(t.Context(), file, Options{}); err == nil {
		t.Error("no error for a file given as directory")
	}
}

func TestParseLinkName(t *testing.T) {
	tests := []struct {
		name string
		want LinkName
		ok   bool
	}{
		{"e6dddb6d.0", LinkName{Hash: 0xe6dddb6d}, true},
		{"E6DDDB6D.12", LinkName{Hash: 0xe6dddb6d, ID: 12}, true},
		{"e6dddb6d.r3", LinkName{Hash: 0xe6dddb6d, CRL: true, ID: 3}, true},
		{"e6dddb6d.R3", LinkName{Hash: 0xe6dddb6d, CRL: true, ID: 3}, true},
		{"e6dddb6d.", LinkName{Hash: 0xe6dddb6d}, true},
		{"e6dddb6d.r", LinkName{Hash: 0xe6dddb6d, CRL: true}, true},
		{"e6dddb6d. 7", LinkName{Hash: 0xe6dddb6d, ID: 7}, true},
		{"e6dddb6d.-1", LinkName{Hash: 0xe6dddb6d, ID: 0xffff}, true},
		{"e6dddb6d.65536", LinkName{Hash: 0xe6dddb6d}, true},
		{"e6dddb6d.99999999999999999999999", LinkName{Hash: 0xe6dddb6d, ID: 0xffff}, true},
		{"e6dddb6d.0.pem", LinkName{}, false},
		{"e6dddb6d. ", LinkName{}, false},
		{"e6dddb6d.x", LinkName{}, false},
		{"e6dddb6g.0", LinkName{}, false},
		{"e6dddb6d0", LinkName{}, false},
		{"e6dddb.0", LinkName{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseLinkName(tc.name)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("ParseLinkName = %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
