package watch

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// TestWatchedDirRecreated: the directory holding a watched file is deleted
// and created again, twice, with the poll backstop off, scanning at every
// event and after a debounce; the file in the new directory is reported
// when it appears and when it changes: the new directory is watched.
func TestWatchedDirRecreated(t *testing.T) {
	for _, debounce := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run("debounce "+debounce.String(), func(t *testing.T) {
			dir := t.TempDir()
			sub := filepath.Join(dir, "tls")
			cert := testutil.WriteFile(t, sub, "cert.pem", []byte("v0"))
			h := startWatchOpts(t, dir, []string{cert}, Options{Debounce: debounce, Poll: -1})
			for round := 1; round <= 2; round++ {
				if err := os.RemoveAll(sub); err != nil {
					t.Fatal(err)
				}
				h.expect(t, "tls/cert.pem") // gone
				// Renamed into place, so that each write is one change.
				testutil.RenameOver(t, cert, []byte("v"+itoa(round)))
				h.expect(t, "tls/cert.pem")
				testutil.RenameOver(t, cert, []byte("v"+itoa(round)+"b"))
				h.expect(t, "tls/cert.pem")
			}
			h.touchMarker(t)
			h.expect(t, "marker")
		})
	}
}
