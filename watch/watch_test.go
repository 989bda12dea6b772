package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/testutil"
)

// certbotRenew renews the example.com lineage under root to version n,
// with contents derived from content.
func certbotRenew(t *testing.T, root string, n int, content string) {
	t.Helper()
	files := map[string][]byte{}
	for _, k := range testutil.CertbotKinds {
		files[k] = []byte(content + k)
	}
	testutil.CertbotRenew(t, root, "example.com", n, files)
}

func kubeSwap(t *testing.T, dir, stamp string, files map[string]string) {
	t.Helper()
	b := map[string][]byte{}
	for k, v := range files {
		b[k] = []byte(v)
	}
	testutil.KubeSwap(t, dir, stamp, b)
}

func TestWatch(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) []string // returns the paths to watch
		change func(t *testing.T, dir string, n int)   // the n-th change
		want   []string                                // relative to dir, in the order of the watched paths
		poll   bool                                    // poll only, no inotify
	}{
		{
			name: "certbot renewal swaps live links",
			setup: func(t *testing.T, dir string) []string {
				certbotRenew(t, dir, 1, "v1")
				return []string{filepath.Join(dir, "live/example.com/fullchain.pem"), filepath.Join(dir, "live/example.com/privkey.pem")}
			},
			change: func(t *testing.T, dir string, n int) { certbotRenew(t, dir, n+1, "v"+itoa(n+1)) },
			want:   []string{"live/example.com/fullchain.pem", "live/example.com/privkey.pem"},
		},
		{
			name: "kubernetes ..data swap",
			setup: func(t *testing.T, dir string) []string {
				kubeSwap(t, dir, "..2024_01_01", map[string]string{"tls.crt": "c1", "tls.key": "k1"})
				return []string{filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")}
			},
			change: func(t *testing.T, dir string, n int) {
				kubeSwap(t, dir, "..2024_02_0"+itoa(n), map[string]string{"tls.crt": "c" + itoa(n+1), "tls.key": "k" + itoa(n+1)})
			},
			want: []string{"tls.crt", "tls.key"},
		},
		{
			name: "rename over the file",
			setup: func(t *testing.T, dir string) []string {
				return []string{testutil.WriteFile(t, dir, "cert.pem", []byte("one"))}
			},
			change: func(t *testing.T, dir string, n int) {
				testutil.RenameOver(t, filepath.Join(dir, "cert.pem"), []byte("v"+itoa(n)))
			},
			want: []string{"cert.pem"},
		},
		{
			name: "write in place",
			setup: func(t *testing.T, dir string) []string {
				return []string{testutil.WriteFile(t, dir, "cert.pem", []byte("one"))}
			},
			change: func(t *testing.T, dir string, n int) { testutil.WriteFile(t, dir, "cert.pem", []byte("v"+itoa(n))) },
			want:   []string{"cert.pem"},
		},
		{
			name: "file and its directory appear later",
			setup: func(t *testing.T, dir string) []string {
				return []string{filepath.Join(dir, "later", "cert.pem")}
			},
			change: func(t *testing.T, dir string, n int) {
				testutil.WriteFile(t, filepath.Join(dir, "later"), "cert.pem", []byte("v"+itoa(n)))
			},
			want: []string{"later/cert.pem"},
		},
		{
			name: "directory gains a certificate",
			setup: func(t *testing.T, dir string) []string {
				testutil.WriteFile(t, filepath.Join(dir, "capath"), "a.pem", []byte("a"))
				return []string{filepath.Join(dir, "capath")}
			},
			change: func(t *testing.T, dir string, n int) {
				testutil.WriteFile(t, filepath.Join(dir, "capath"), "b.pem", []byte("v"+itoa(n)))
			},
			want: []string{"capath"},
		},
		{
			name: "poll backstop without inotify",
			poll: true,
			setup: func(t *testing.T, dir string) []string {
				return []string{testutil.WriteFile(t, dir, "cert.pem", []byte("one"))}
			},
			change: func(t *testing.T, dir string, n int) { testutil.WriteFile(t, dir, "cert.pem", []byte("v"+itoa(n))) },
			want:   []string{"cert.pem"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := tc.setup(t, dir)
			h := startWatch(t, dir, paths, tc.poll)
			// Twice: the second change shows that the watches followed
			// the first one (new link targets, new directories).
			for n := 1; n <= 2; n++ {
				tc.change(t, dir, n)
				h.expect(t, tc.want...)
				// Nothing else may have been reported: the next report
				// is the marker alone.
				h.touchMarker(t)
				h.expect(t, "marker")
			}
		})
	}
}

// TestWatchIgnoresNonChanges checks that events which leave the content as
// it was report nothing: the same bytes rewritten, a certbot renewal that
// links to identical files, hash links added to a capath directory,
// unrelated files in a watched directory.
func TestWatchIgnoresNonChanges(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) []string
		change func(t *testing.T, dir string)
	}{
		{
			name: "same bytes rewritten",
			setup: func(t *testing.T, dir string) []string {
				return []string{testutil.WriteFile(t, dir, "cert.pem", []byte("same"))}
			},
			change: func(t *testing.T, dir string) { testutil.WriteFile(t, dir, "cert.pem", []byte("same")) },
		},
		{
			name: "links swapped to identical content",
			setup: func(t *testing.T, dir string) []string {
				certbotRenew(t, dir, 1, "v")
				return []string{filepath.Join(dir, "live/example.com/cert.pem")}
			},
			change: func(t *testing.T, dir string) { certbotRenew(t, dir, 2, "v") },
		},
		{
			name: "hash links and temporary files in a capath",
			setup: func(t *testing.T, dir string) []string {
				testutil.WriteFile(t, filepath.Join(dir, "capath"), "a.pem", []byte("a"))
				return []string{filepath.Join(dir, "capath")}
			},
			change: func(t *testing.T, dir string) {
				testutil.Symlink(t, "a.pem", filepath.Join(dir, "capath", "0123abcd.0"))
				testutil.WriteFile(t, filepath.Join(dir, "capath"), atomicfile.TempPrefix+"x", []byte("partial"))
			},
		},
		{
			// Every name openssl rehash takes for its own link, as
			// hashlink.ParseLinkName says: upper-case hex and a CRL's
			// rN included.
			name: "links openssl rehash manages",
			setup: func(t *testing.T, dir string) []string {
				testutil.WriteFile(t, filepath.Join(dir, "capath"), "a.pem", []byte("a"))
				return []string{filepath.Join(dir, "capath")}
			},
			change: func(t *testing.T, dir string) {
				for _, n := range []string{"0123ABCD.0", "0123abcd.r1", "89abcdef.R0"} {
					testutil.Symlink(t, "a.pem", filepath.Join(dir, "capath", n))
				}
			},
		},
		{
			name: "unrelated file next to the watched one",
			setup: func(t *testing.T, dir string) []string {
				return []string{testutil.WriteFile(t, dir, "cert.pem", []byte("c"))}
			},
			change: func(t *testing.T, dir string) { testutil.WriteFile(t, dir, "other.txt", []byte("x")) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h := startWatch(t, dir, tc.setup(t, dir), false)
			tc.change(t, dir)
			h.touchMarker(t)
			h.expect(t, "marker")
		})
	}
}

// TestWatchUnreadable: a FIFO, a device, a directory or an oversized file
// appearing at a watched path is reported once, as the change it is; the
// scans after it neither block on it nor report it again; and a regular
// file replacing it is reported. Without inotify, a watched FIFO that
// stays in place counts the polls: each opens it once.
func TestWatchUnreadable(t *testing.T) {
	for _, k := range testutil.UnreadableFiles {
		for _, poll := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, poll only %v", k.Name, poll), func(t *testing.T) {
				dir := t.TempDir()
				cert := testutil.WriteFile(t, dir, "cert.pem", []byte("one"))
				scans := filepath.Join(dir, "scans.fifo")
				if err := syscall.Mkfifo(scans, 0o644); err != nil {
					t.Fatal(err)
				}
				h := startWatch(t, dir, []string{cert, scans}, poll)
				// In one step: a link to it renamed over the file.
				k.Make(t, cert+".new")
				testutil.Symlink(t, "cert.pem.new", cert+".link")
				if err := os.Rename(cert+".link", cert); err != nil {
					t.Fatal(err)
				}
				h.expect(t, "cert.pem")
				// Three more scans, none of which reports the path again:
				// polls that the FIFO counts, or events on the marker.
				if poll {
					testutil.WaitOpened(t, scans, 3, 5*time.Second)
				}
				for range 3 {
					h.touchMarker(t)
					h.expect(t, "marker")
				}
				testutil.RenameOver(t, cert, []byte("two"))
				h.expect(t, "cert.pem")
			})
		}
	}
}

// TestDebounceCoalesces checks that a burst of writes is one report.
func TestDebounceCoalesces(t *testing.T) {
	dir := t.TempDir()
	p := testutil.WriteFile(t, dir, "cert.pem", []byte("0"))
	// A long debounce, so that a slow machine cannot split the burst.
	h := startWatchOpts(t, dir, []string{p}, Options{Debounce: 300 * time.Millisecond, Poll: -1})
	for i := 1; i <= 10; i++ {
		testutil.WriteFile(t, dir, "cert.pem", []byte("v"+itoa(i)))
	}
	h.expect(t, "cert.pem")
	h.touchMarker(t)
	h.expect(t, "marker")
}

func TestNewRejectsNoPaths(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

type harness struct {
	dir     string
	marker  string
	reports chan []string
	n       int
}

// startWatch watches paths plus a marker file with a short debounce.
func startWatch(t *testing.T, dir string, paths []string, pollOnly bool) *harness {
	t.Helper()
	opts := Options{Debounce: 30 * time.Millisecond, Poll: -1, noNotify: pollOnly}
	if pollOnly {
		opts.Poll = 20 * time.Millisecond
	}
	return startWatchOpts(t, dir, paths, opts)
}

func startWatchOpts(t *testing.T, dir string, paths []string, opts Options) *harness {
	t.Helper()
	h := &harness{dir: dir, marker: testutil.WriteFile(t, dir, "marker", []byte("0")), reports: make(chan []string, 16)}
	w, err := New(append(paths, h.marker), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx, func(changed []string) { h.reports <- changed })
	}()
	t.Cleanup(func() { cancel(); <-done; w.Close() })
	return h
}

func (h *harness) touchMarker(t *testing.T) {
	t.Helper()
	h.n++
	testutil.WriteFile(t, h.dir, "marker", []byte(itoa(h.n)))
}

// expect waits for the next report and compares it with want (paths
// relative to the test directory).
func (h *harness) expect(t *testing.T, want ...string) {
	t.Helper()
	select {
	case got := <-h.reports:
		rel := make([]string, len(got))
		for i, p := range got {
			rel[i], _ = filepath.Rel(h.dir, p)
		}
		if !slices.Equal(rel, want) {
			t.Fatalf("reported %q, want %q", rel, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no report within 5s, want %q", want)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestDirRecreatedBeforeWatched: a watched file's directory that is
// removed and created again between the scan's resolve and the watch on
// its parent (the creation's event fires before anyone listens) is still
// watched, so the file written into it afterwards is reported; the poll is
// off, so nothing else would notice.
func TestDirRecreatedBeforeWatched(t *testing.T) {
	dir := t.TempDir()
	tls := filepath.Join(dir, "srv", "tls") // srv is watched only while tls is gone (the harness watches dir)
	cert := testutil.WriteFile(t, tls, "cert.pem", []byte("one"))
	var armed atomic.Bool
	race := func() { // on the watcher's goroutine, inside the race window
		if _, err := os.Stat(tls); os.IsNotExist(err) && armed.CompareAndSwap(true, false) {
			if err := os.Mkdir(tls, 0o755); err != nil {
				t.Error(err)
			}
		}
	}
	h := startWatchOpts(t, dir, []string{cert}, Options{Debounce: 30 * time.Millisecond, Poll: -1, afterResolve: race})
	armed.Store(true)
	if err := os.RemoveAll(tls); err != nil {
		t.Fatal(err)
	}
	h.expect(t, "srv/tls/cert.pem") // gone
	if armed.Load() {
		t.Fatal("the scan never resolved the path while its directory was gone: the case tests nothing")
	}
	testutil.WriteFile(t, tls, "cert.pem", []byte("two"))
	h.expect(t, "srv/tls/cert.pem")
}
