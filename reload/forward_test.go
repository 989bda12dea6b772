package reload

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// stampedRecorder is a Target that records when each signal was sent.
type stampedRecorder struct {
	mu sync.Mutex
	at []time.Time
}

func (s *stampedRecorder) Signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Now())
	return nil
}

func (s *stampedRecorder) Restart() error { return nil }

func (s *stampedRecorder) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at...)
}

// TestForwardPaced: a storm of reload signals sent to certinit right after
// a reload reaches the server as at most two signals, the first of them
// readTime after the reload (the server may still be reading its files),
// and one is sent after the storm's last request.
func TestForwardPaced(t *testing.T) {
	f := newFixture(t)
	rec := &stampedRecorder{}
	r := New(Config{Files: Files{Cert: f.cert, Key: f.key}, Log: testutil.Logger(t)}, rec)
	go r.Run(t.Context())

	f.writePair(testutil.CertOpts{})
	changed(t, r, f.cert, f.key)
	for range 1000 {
		r.Forward()
	}
	last := time.Now()
	testutil.Eventually(t, 10*time.Second, func() (bool, string) {
		at := rec.times()
		return len(at) >= 2 && at[len(at)-1].After(last), "no signal after the storm's last request"
	})
	at := rec.times()
	if len(at) > 3 {
		t.Fatalf("%d signals for one reload and a storm of 1000 requests, want at most 3", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < readTime {
		t.Fatalf("a forwarded signal %s after the reload's, within readTime %s", gap, readTime)
	}
}
