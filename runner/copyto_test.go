package runner

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// copySettle bounds how long a reader of a shared --copy-to directory may
// keep seeing a certificate and a key from different renewals. certinit
// renames the two into place microseconds apart (reload.Snapshot.CopyTo),
// so a reader sees a mixed pair only when its own two opens straddle the
// renames; the bound leaves a wide margin for a loaded machine.
const copySettle = 100 * time.Millisecond

// TestSharedCopyTo: two certinit run instances watch the same certificate
// and key and copy them into the same --copy-to directory (two brokers on
// one volume, or the old and the new pod of a rollout). The source is
// renewed many times, some renewals landing while the copies of the
// previous one are being written. A reader checks the copies all along, as
// a broker loading them would: each file always parses completely, the
// certificate and key never come from different renewals for longer than
// copySettle, neither file ever goes back to an older renewal, and after
// each settled renewal and at the end the copies equal the source.
func TestSharedCopyTo(t *testing.T) {
	n := testutil.Scale(30, 300)
	dir := t.TempDir()
	src, copyDir := filepath.Join(dir, "src"), filepath.Join(dir, "copy")
	pairs := newPairFactory(t)
	cert, key := pairs.next()
	certPath := testutil.WriteFile(t, src, "server.pem", cert)
	keyPath := testutil.WriteFile(t, src, "server-key.pem", key)
	var insts []*testutil.Certinit
	for range 2 {
		insts = append(insts, startCertinit(t, "--cert", certPath, "--key", keyPath, "--copy-to", copyDir,
			"--debounce", "50ms", "--", "sh", "-c", `trap "" HUP; exec sleep 3600`))
	}
	for _, c := range insts {
		c.WaitRecords(testutil.Message("child started"), 1)
	}
	copyCert, copyKey := filepath.Join(copyDir, "server.pem"), filepath.Join(copyDir, "server-key.pem")
	settled := func() (bool, string) {
		return sameBytes(certPath, copyCert) && sameBytes(keyPath, copyKey), "the copies differ from the source"
	}
	testutil.Eventually(t, 10*time.Second, settled)

	r := startCopyReader(t, copyCert, copyKey, pairs)
	start := time.Now()
	waits := 0
	for i := 1; i <= n; i++ {
		cert, key := pairs.next()
		// As most renewing tools do: the key first, then the certificate.
		testutil.RenameOver(t, keyPath, key)
		testutil.RenameOver(t, certPath, cert)
		if i%3 == 0 || i == n {
			testutil.Eventually(t, 10*time.Second, settled)
			waits++
			continue
		}
		// The next renewal lands while this one is being checked or copied.
		time.Sleep(time.Duration(rand.IntN(80)) * time.Millisecond) // pacing, not synchronisation
	}
	took := time.Since(start)
	st := r.stop()
	t.Logf("%d renewals in %s (%d waited for); reader: %d reads, %d with a mixed pair, longest mix %s, %d older than a previous read",
		n, took.Round(time.Millisecond), waits, st.reads, st.mixed, st.longestMix.Round(time.Microsecond), st.backwards)
	for i, c := range insts {
		t.Logf("certinit %d: %d reloads, %d deferred (files changed again while being copied), %d refused (caught mid-renewal)", i+1,
			c.Count(testutil.Message("reloading")), c.Count(testutil.Message("reload deferred")), c.Count(testutil.Message("reload refused")))
	}
	for _, p := range st.problems {
		t.Error(p)
	}
	if st.longestMix > copySettle {
		t.Errorf("the copies held a certificate and a key from different renewals for %s (limit %s)", st.longestMix, copySettle)
	}
	if st.backwards > 0 {
		t.Errorf("%d reads found a copy older than an earlier read: one certinit overwrote a newer pair with an older one", st.backwards)
	}
	if ok, _ := settled(); !ok {
		t.Error("the copies differ from the source at the end")
	}
	for _, c := range insts {
		if c.Exited() {
			t.Errorf("certinit exited (code %d)", c.Code())
		}
	}
}

// pairFactory issues numbered server pairs and knows, for a certificate
// serial or a public key, which renewal it belongs to.
type pairFactory struct {
	t    *testing.T
	ca   *testutil.CA
	mu   sync.Mutex
	n    int
	byID map[string]int // serial or public key (DER) -> renewal
}

func newPairFactory(t *testing.T) *pairFactory {
	return &pairFactory{t: t, ca: testutil.NewCA(t, "certinit copy-to test CA"), byID: map[string]int{}}
}

func (f *pairFactory) next() (cert, key []byte) {
	c, k := f.ca.Issue(f.t, testutil.CertOpts{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"}})
	pub, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.byID["serial:"+c.SerialNumber.String()] = f.n
	f.byID["key:"+string(pub)] = f.n
	f.n++
	f.mu.Unlock()
	return testutil.CertPEM(c), testutil.KeyPEM(f.t, k)
}

func (f *pairFactory) renewal(id string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.byID[id]
	return n, ok
}

// copyReader reads the copied pair in a loop, certificate first, as a
// server loading it does.
type copyReader struct {
	stopc chan struct{}
	done  chan struct{}
	stats copyStats
}

type copyStats struct {
	reads, mixed, backwards int
	longestMix              time.Duration
	problems                []string
}

func startCopyReader(t *testing.T, certPath, keyPath string, pairs *pairFactory) *copyReader {
	r := &copyReader{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		st := &r.stats
		lastCert, lastKey := -1, -1
		var mixSince time.Time
		for {
			select {
			case <-r.stopc:
				return
			default:
			}
			ci, ki, err := readCopy(certPath, keyPath, pairs)
			now := time.Now()
			st.reads++
			if err != nil {
				if len(st.problems) < 5 {
					st.problems = append(st.problems, now.Format("15:04:05.000000")+" "+err.Error())
				}
				continue
			}
			if ci < lastCert || ki < lastKey {
				st.backwards++
			}
			lastCert, lastKey = max(lastCert, ci), max(lastKey, ki)
			if ci != ki {
				st.mixed++
				if mixSince.IsZero() {
					mixSince = now
				}
				st.longestMix = max(st.longestMix, now.Sub(mixSince))
			} else {
				mixSince = time.Time{}
			}
			time.Sleep(500 * time.Microsecond) // pacing: leave CPU to the writers
		}
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *copyReader) stop() copyStats {
	select {
	case <-r.stopc:
	default:
		close(r.stopc)
	}
	<-r.done
	return r.stats
}

// readCopy parses the copied pair completely and returns the renewal each
// file belongs to.
func readCopy(certPath, keyPath string, pairs *pairFactory) (certRenewal, keyRenewal int, err error) {
	certs, err := pemfile.ReadCertificates(certPath)
	if err != nil {
		return 0, 0, err
	}
	key, err := pemfile.ReadKey(keyPath)
	if err != nil {
		return 0, 0, err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v", keyPath, err)
	}
	ci, ok := pairs.renewal("serial:" + certs[0].SerialNumber.String())
	if !ok {
		return 0, 0, fmt.Errorf("%s: certificate %x was never issued by the test", certPath, certs[0].SerialNumber)
	}
	ki, ok := pairs.renewal("key:" + string(pub))
	if !ok {
		return 0, 0, fmt.Errorf("%s: key was never issued by the test", keyPath)
	}
	if (ci == ki) != pemfile.KeyMatches(certs[0], key) {
		return 0, 0, fmt.Errorf("renewal %d/%d bookkeeping disagrees with the key check", ci, ki)
	}
	return ci, ki, nil
}

func sameBytes(a, b string) bool {
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
