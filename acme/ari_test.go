package acme

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// rfc9773Cert is the certificate of RFC 9773 Appendix A. Its serial
// number's DER encoding has a leading zero byte, which the certificate
// identifier keeps.
const rfc9773Cert = `-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----`

// TestCertID checks the identifier against the RFC's own example.
func TestCertID(t *testing.T) {
	b, _ := pem.Decode([]byte(rfc9773Cert))
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := certID(c)
	if want := "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"; err != nil || got != want {
		t.Fatalf("certID = %q, %v; RFC 9773 Appendix A says %q", got, err, want)
	}
	c.AuthorityKeyId = nil
	if _, err := certID(c); err == nil {
		t.Errorf("certID of a certificate without an authority key identifier: no error")
	}
}

func TestDrawRenewal(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := time.Hour
	tests := []struct {
		name       string
		start, end time.Time
		lo, hi     time.Time // the draw falls in [lo, hi)
	}{
		{"window ahead", now.Add(10 * h), now.Add(20 * h), now.Add(10 * h), now.Add(20 * h)},
		{"inside the window: what is left of it", now.Add(-5 * h), now.Add(5 * h), now, now.Add(5 * h)},
		{"window passed: due at once", now.Add(-2 * h), now.Add(-h), now.Add(-2 * h), now.Add(-2*h + 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[time.Time]bool{}
			for range 200 {
				at := drawRenewal(tc.start, tc.end, now)
				if at.Before(tc.lo) || !at.Before(tc.hi) {
					t.Fatalf("drew %v, want in [%v, %v)", at, tc.lo, tc.hi)
				}
				seen[at] = true
			}
			if tc.hi.Sub(tc.lo) > time.Second && len(seen) < 100 {
				t.Errorf("only %d different times in 200 draws: not random", len(seen))
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"21600", 6 * time.Hour},
		{"", ariRetryDefault},
		{"soon", ariRetryDefault},
		{"1", ariRetryMin},
		{"864000", ariRetryMax},
		{now.Add(2 * time.Hour).Format(http.TimeFormat), 2 * time.Hour},
		{now.Add(-time.Hour).Format(http.TimeFormat), ariRetryMin},
	}
	for _, tc := range tests {
		if got := retryAfter(tc.header, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

// TestRenewalInfoShutdown: asking the CA cut short by the end of the
// context (run shutting down) keeps nothing in the cache and logs nothing,
// so the next start asks again.
func TestRenewalInfoShutdown(t *testing.T) {
	b, _ := pem.Decode([]byte(rfc9773Cert))
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	logs, log := testutil.NewLogs(t)
	dir := t.TempDir()
	is := &ACMEIssuer{cfg: Config{DirectoryURL: "https://127.0.0.1:1/dir"}, cache: fileCache{dir: dir}, base: newCATransport(nil), log: log}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if st := is.ariFor(ctx, "k", leaf, time.Now()); st.None == "" {
		t.Errorf("state %+v, want none", st)
	}
	if _, err := os.Stat(filepath.Join(dir, ariEntry("k"))); !os.IsNotExist(err) {
		t.Errorf("state kept: %v", err)
	}
	if recs := logs.Records(); len(recs) != 0 {
		t.Errorf("logged %v", recs)
	}
}
