package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pebbletest"
	"github.com/certinit/certinit/internal/testutil"
)

// Fault injection against a real Pebble, at the level of RenewLoop: the CA
// killed in the middle of an order, a CA that answers with errors, a slow
// CA. In each case the output directory keeps the old certificate until a
// complete new one is written, which a TLS server that reloads the files
// on every handshake (the most eager broker possible) shows: every
// handshake succeeds and presents the old serial until the renewal. The
// loop retries with backoff and each failure is one log line naming the
// CA's directory URL and what failed.

// served does TLS handshakes with a server until the test ends and
// records the serials presented and the failures.
type served struct {
	mu      sync.Mutex
	serials map[string]int
	fails   []string
}

// serveOutput runs a TLS server that loads dir's fullchain.pem and
// privkey.pem on every handshake, and a client that shakes hands with it
// every 20ms.
func serveOutput(t *testing.T, dir string) *served {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, FullChainFile), filepath.Join(dir, KeyFile))
		return &c, err
	}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				tls.Server(c, conf).HandshakeContext(ctx)
			})
		}
	})
	s := &served{serials: map[string]int{}}
	stop := make(chan struct{})
	wg.Go(func() {
		// The client checks only which certificate is presented: whether
		// it chains to the right CA is checkOutput's business.
		d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			cancel()
			s.mu.Lock()
			if err != nil {
				s.fails = append(s.fails, err.Error())
			} else {
				s.serials[c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Text(16)]++
				c.Close()
			}
			s.mu.Unlock()
			time.Sleep(20 * time.Millisecond) // pacing
		}
	})
	t.Cleanup(func() { close(stop); ln.Close(); wg.Wait() })
	return s
}

// check fails the test unless every handshake so far succeeded and
// presented one of the serials.
func (s *served) check(t *testing.T, when string, serials ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fails) > 0 {
		t.Errorf("%s: %d handshakes failed, first: %s", when, len(s.fails), s.fails[0])
	}
	total := 0
	for serial, n := range s.serials {
		total += n
		found := false
		for _, want := range serials {
			found = found || serial == want
		}
		if !found {
			t.Errorf("%s: serial %s presented %d times, want only %v", when, serial, n, serials)
		}
	}
	if total == 0 {
		t.Errorf("%s: no handshake yet", when)
	}
}

func (s *served) count(serial string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serials[serial]
}

// faultRun is an ACME issuer for one name whose output directory already
// holds an older certificate (from another CA), served as described above.
// Its cache is empty, so RenewLoop orders at once.
type faultRun struct {
	t       *testing.T
	p       *pebbletest.Server
	gate    *testutil.Relay // where Pebble's VA connects for HTTP-01, relaying to the issuer's listener
	name    string
	cfg     Config
	logs    *testutil.Logs
	iss     Issuer
	old     string // serial of the old certificate, hexadecimal
	before  map[string]string
	served  *served
	renewed <-chan *Result
	tries   testutil.Collected[Attempt] // what Config.Report heard
}

func newFaultRun(t *testing.T, p *pebbletest.Server, name string) *faultRun {
	f := &faultRun{t: t, p: p, name: name}
	f.cfg = acmeConfig(t, p, name)
	f.cfg.TLSAddr = "" // every validation goes through the gate
	f.cfg.HTTPAddr = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	f.gate = testutil.StartRelay(t, p.HTTPAddr(), f.cfg.HTTPAddr)
	ca := testutil.NewCA(t, "certinit old CA")
	leaf, key := ca.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}})
	testutil.WriteFile(t, f.cfg.Out, CertFile, testutil.CertPEM(leaf))
	testutil.WriteFile(t, f.cfg.Out, ChainFile, testutil.CertPEM(ca.Cert))
	testutil.WriteFile(t, f.cfg.Out, FullChainFile, testutil.CertPEM(leaf, ca.Cert))
	testutil.WriteFile(t, f.cfg.Out, KeyFile, testutil.KeyPEM(t, key))
	f.old = leaf.SerialNumber.Text(16)
	f.before = snapshot(t, f.cfg.Out)
	f.served = serveOutput(t, f.cfg.Out)
	f.cfg.Report = f.tries.Add
	f.iss, f.logs = mustNew(t, f.cfg)
	return f
}

func (f *faultRun) start() { f.renewed = startLoop(f.t, f.iss) }

// failures are the loop's failure records so far: errors that count
// attempts.
func (f *faultRun) failures() []testutil.Record {
	return f.logs.Matching(testutil.All(testutil.AtLevel(slog.LevelError), testutil.HasKey("attempt")))
}

// checkOld: the output files are untouched and only the old certificate
// was ever presented, with no failed handshake.
func (f *faultRun) checkOld(when string) {
	f.t.Helper()
	if !maps.Equal(f.before, snapshot(f.t, f.cfg.Out)) {
		f.t.Errorf("%s: the output files changed", when)
	}
	f.served.check(f.t, when, f.old)
}

// checkErrors: each failure names the CA's directory URL, and its error
// holds words.
func (f *faultRun) checkErrors(recs []testutil.Record, words ...string) {
	f.t.Helper()
	for _, r := range recs {
		if r.Attrs["directory"] != f.p.DirectoryURL {
			f.t.Errorf("failure does not name the directory %s: %v", f.p.DirectoryURL, r.Attrs)
		}
		for _, w := range words {
			if !strings.Contains(r.Attrs["err"], w) {
				f.t.Errorf("failure does not say %q: %s", w, r.Attrs["err"])
			}
		}
	}
}

// checkBackoff: the attempts are numbered 1, 2, 3, ... and the first
// three delays grow (backoff doubles; its jitter ranges do not overlap).
func (f *faultRun) checkBackoff(recs []testutil.Record) {
	f.t.Helper()
	var waits []time.Duration
	for i, r := range recs {
		if r.Attrs["attempt"] != strconv.Itoa(i+1) {
			f.t.Fatalf("failure %d is attempt %s", i+1, r.Attrs["attempt"])
		}
		d, err := time.ParseDuration(r.Attrs["retry_in"])
		if err != nil {
			f.t.Fatalf("failure %d: retry_in: %v", i+1, err)
		}
		waits = append(waits, d)
	}
	for i := 1; i < min(3, len(waits)); i++ {
		if waits[i] <= waits[i-1] {
			f.t.Errorf("retry delays %v do not back off", waits)
		}
	}
	f.t.Logf("retry delays: %v", waits)
}

// waitRenewed waits for the renewal from the current Pebble and checks the
// new files, and that the server moved from the old serial to the new one
// with no failed handshake in between.
func (f *faultRun) waitRenewed(within time.Duration) *Result {
	f.t.Helper()
	r := waitRenewal(f.t, f.renewed, within)
	if !r.Changed || !r.Certs[0].Issued {
		f.t.Fatalf("renewal result %+v", r)
	}
	checkOutput(f.t, f.cfg.Out, f.p.Roots(f.t), writeRoot(f.t, f.p.RootPEM(f.t)), f.name, KeyECDSA, 0o600)
	serial := r.Certs[0].Serial
	testutil.Eventually(f.t, 10*time.Second, func() (bool, string) { return f.served.count(serial) > 0, "the new certificate served" })
	f.served.check(f.t, "after the renewal", f.old, serial)
	return r
}

// TestRenewLoopCAKilledMidOrder: Pebble is killed at the moment its VA
// connects to validate the challenge. The attempt fails with an error that
// says the CA stopped answering during the order; the following attempts
// find it unreachable and back off; the old certificate is served all the
// while. A new Pebble behind the same URL then issues, and the new files
// are served.
func TestRenewLoopCAKilledMidOrder(t *testing.T) {
	shortRetries(t)
	p := pebbletest.Start(t, pebbletest.Options{})
	f := newFaultRun(t, p, "midorder.certinit.test")
	killed := make(chan struct{})
	var once sync.Once
	f.gate.Before(func() { once.Do(func() { p.Stop(); close(killed) }) })
	f.start()
	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatal("Pebble never came to validate the challenge")
	}
	testutil.Eventually(t, 30*time.Second, func() (bool, string) { return len(f.failures()) >= 3, "three failed attempts" })
	f.checkOld("while the CA is down")
	recs := f.failures()
	f.checkErrors(recs, "ACME CA unreachable")
	f.checkErrors(recs[:1], "then stopped")
	f.checkErrors(recs[1:], "check the directory URL")
	f.checkBackoff(recs)

	p.Restart(t)
	f.gate.Before(nil)
	f.waitRenewed(60 * time.Second)
}

// TestRenewLoopCAErrors: Pebble rejects every nonce (badNonce for every
// request, what a CA in trouble or a proxy losing its state looks like).
// The ACME client retries each request a few times, the loop retries the
// order with backoff, each failure says the CA failed and names it, and the
// old certificate is served. With half the nonces rejected the client's
// retries carry the renewal through.
func TestRenewLoopCAErrors(t *testing.T) {
	shortRetries(t)
	t.Run("every nonce rejected", func(t *testing.T) {
		p := pebbletest.Start(t, pebbletest.Options{Env: []string{"PEBBLE_WFE_NONCEREJECT=100"}})
		f := newFaultRun(t, p, "errors.certinit.test")
		f.start()
		testutil.Eventually(t, 60*time.Second, func() (bool, string) { return len(f.failures()) >= 3, "three failed attempts" })
		f.checkOld("while the CA fails")
		recs := f.failures()
		f.checkErrors(recs, "the ACME CA failed the request", "badNonce", "not in this configuration")
		f.checkBackoff(recs)
		for _, a := range f.tries.All() {
			// Retries come within a second (shortRetries).
			if !errors.Is(a.Err, ErrCAFailure) || a.Renewed || a.Next.IsZero() || a.Next.After(time.Now().Add(time.Minute)) {
				t.Errorf("attempt reported as %+v, want a CA failure with its retry time", a)
			}
		}

		p.SetEnv()
		p.Restart(t)
		f.waitRenewed(60 * time.Second)
	})
	t.Run("half the nonces rejected", func(t *testing.T) {
		p := pebbletest.Start(t, pebbletest.Options{Env: []string{"PEBBLE_WFE_NONCEREJECT=50"}})
		f := newFaultRun(t, p, "flaky.certinit.test")
		f.start()
		f.waitRenewed(90 * time.Second)
		// A failed attempt (a nonce rejected more often than the client
		// retries) must still name the CA.
		recs := f.failures()
		f.checkErrors(recs)
		t.Logf("renewed after %d failed attempts", len(recs))
	})
}

// TestRenewLoopSlowCA: every validation is slow (Pebble's VA waits up to 2s
// before validating, and the gate holds each of its connections 2s more).
// The order is waited for, not abandoned or repeated: no failure, one
// renewal, the old certificate served until the new one is complete.
func TestRenewLoopSlowCA(t *testing.T) {
	shortRetries(t)
	p := pebbletest.Start(t, pebbletest.Options{Env: []string{"PEBBLE_VA_NOSLEEP=0", "PEBBLE_VA_SLEEPTIME=3"}})
	f := newFaultRun(t, p, "slow.certinit.test")
	const delay = 2 * time.Second
	f.gate.Before(func() { time.Sleep(delay) }) // the slowness under test
	start := time.Now()
	f.start()
	f.waitRenewed(90 * time.Second)
	took := time.Since(start)
	if took < delay || f.gate.Connections() == 0 {
		t.Errorf("renewed in %s with %d validation connections: the slow path was not taken", took, f.gate.Connections())
	}
	if recs := f.failures(); len(recs) > 0 {
		t.Errorf("a slow CA was given up on %d times: %v", len(recs), recs)
	}
	t.Logf("renewed in %s through %d slow validations", took.Round(time.Millisecond), f.gate.Connections())
}
