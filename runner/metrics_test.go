package runner

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/metrics"
	"github.com/certinit/certinit/mosquittoconf"
	"github.com/certinit/certinit/reload"
)

// TestRefusalReasons: each way a pair fails its checks, produced by
// reload.Load on real files, is counted under its own reason; a file that
// cannot be read, whatever it is, under unreadable.
func TestRefusalReasons(t *testing.T) {
	ca := testutil.NewCA(t, "refusal CA")
	issue := func(dir string, notBefore, notAfter time.Time) reload.Files {
		o := testutil.Localhost()
		o.NotBefore, o.NotAfter = notBefore, notAfter
		leaf, key := ca.Issue(t, o)
		return reload.Files{Cert: testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(leaf)),
			Key: testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, key))}
	}
	now := time.Now()
	good := func(dir string) reload.Files { return issue(dir, now.Add(-time.Hour), now.Add(time.Hour)) }
	tests := []struct {
		name  string
		files func(dir string) (reload.Files, []string) // the pair and the roots
		want  metrics.Reason
	}{
		{"key of another pair", func(dir string) (reload.Files, []string) {
			f := good(dir)
			_, other := ca.Issue(t, testutil.Localhost())
			testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, other))
			return f, nil
		}, metrics.ReasonKeyMismatch},
		{"expired", func(dir string) (reload.Files, []string) {
			return issue(dir, now.Add(-2*time.Hour), now.Add(-time.Hour)), nil
		}, metrics.ReasonExpired},
		{"not yet valid", func(dir string) (reload.Files, []string) {
			return issue(dir, now.Add(time.Hour), now.Add(2*time.Hour)), nil
		}, metrics.ReasonNotYetValid},
		{"chain to another CA", func(dir string) (reload.Files, []string) {
			other := testutil.WriteFile(t, dir, "other-ca.pem", testutil.CertPEM(testutil.NewCA(t, "other").Cert))
			return good(dir), []string{other}
		}, metrics.ReasonUntrusted},
		{"chain to an intermediate alone", func(dir string) (reload.Files, []string) {
			inter := ca.Intermediate(t, "refusal intermediate")
			leaf, key := inter.Issue(t, testutil.Localhost())
			return reload.Files{Cert: testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(leaf, inter.Cert)),
				Key: testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, key))}, []string{testutil.WriteFile(t, dir, "inter.pem", testutil.CertPEM(inter.Cert))}
		}, metrics.ReasonUntrusted},
		{"RSA 1024 key", func(dir string) (reload.Files, []string) {
			k, err := rsa.GenerateKey(rand.Reader, 1024)
			if err != nil {
				t.Fatal(err)
			}
			o := testutil.Localhost()
			o.Key = k
			leaf, _ := ca.Issue(t, o)
			return reload.Files{Cert: testutil.WriteFile(t, dir, "cert.pem", testutil.CertPEM(leaf)),
				Key: testutil.WriteFile(t, dir, "key.pem", testutil.KeyPEM(t, k))}, nil
		}, metrics.ReasonWeak},
		{"missing key", func(dir string) (reload.Files, []string) {
			f := good(dir)
			os.Remove(f.Key)
			return f, nil
		}, metrics.ReasonUnreadable},
		{"truncated certificate", func(dir string) (reload.Files, []string) {
			f := good(dir)
			pem := testutil.ReadFile(t, f.Cert)
			testutil.WriteFile(t, dir, "cert.pem", pem[:len(pem)/2])
			return f, nil
		}, metrics.ReasonMalformed},
		{"not PEM at all", func(dir string) (reload.Files, []string) {
			f := good(dir)
			testutil.WriteFile(t, dir, "cert.pem", []byte("hello\n"))
			return f, nil
		}, metrics.ReasonMalformed},
	}
	for _, k := range testutil.UnreadableFiles {
		tests = append(tests, struct {
			name  string
			files func(dir string) (reload.Files, []string)
			want  metrics.Reason
		}{"key is a " + k.Name, func(dir string) (reload.Files, []string) {
			f := good(dir)
			os.Remove(f.Key)
			k.Make(t, f.Key)
			return f, nil
		}, metrics.ReasonUnreadable})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, roots := tc.files(t.TempDir())
			_, err := reload.Load(files, roots, time.Now())
			if err == nil {
				t.Fatal("Load accepted the pair")
			}
			if got := refusal(reload.Outcome{Refused: err, Stage: reload.StageCheck}); got != tc.want {
				t.Errorf("%v: counted as %s, want %s", err, got, tc.want)
			}
		})
	}
	for stage, want := range map[reload.Stage]metrics.Reason{reload.StageCopy: metrics.ReasonCopy, reload.StageHook: metrics.ReasonTrust} {
		if got := refusal(reload.Outcome{Refused: errors.New("x"), Stage: stage}); got != want {
			t.Errorf("stage %d: %s, want %s", stage, got, want)
		}
	}
}

// TestRenewalFailures: acme's kinds of failure map to their reasons, an
// error of no known kind to other.
func TestRenewalFailures(t *testing.T) {
	for kind, want := range map[error]metrics.RenewalReason{
		acme.ErrCAUnreachable: metrics.RenewalCAUnreachable,
		acme.ErrRateLimited:   metrics.RenewalRateLimited,
		acme.ErrChallenge:     metrics.RenewalChallenge,
		acme.ErrAccount:       metrics.RenewalAccount,
		acme.ErrCAFailure:     metrics.RenewalCAFailure,
		nil:                   metrics.RenewalOther,
	} {
		err := fmt.Errorf("renew: %w", &acme.Error{Kind: kind, Object: "mqtt.example.com", Err: errors.New("cause")})
		if got := renewalFailure(err); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}

// TestMetricsCerts: every path label is absolute and clean, so that the
// certificate a listener serves and the --copy-to copy it loads share
// their label however each was written (relative, with a doubled slash);
// and the expiry warnings look at what the broker serves only when
// metrics are served.
func TestMetricsCerts(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	conf := testutil.WriteFile(t, dir, "mosquitto.conf", []byte("listener 8883\ncertfile copy//fullchain.pem\nkeyfile ./copy/privkey.pem\n"))
	cfg := Config{Cert: "live/fullchain.pem", Key: "live/privkey.pem", CopyTo: "./copy/", Trust: []string{"ca.pem"}, MosquittoConf: conf}
	s := &state{cfg: cfg, files: cfg.pair()}
	broker, problems, err := mosquittoconf.Load(conf)
	if err != nil || len(problems) > 0 {
		t.Fatalf("%s: %v %v", conf, err, problems)
	}
	s.broker = broker
	got := map[metrics.Role]string{}
	for _, c := range slices.Concat(s.fileCerts(), s.servedCerts()) {
		got[c.Role] = c.Path
	}
	want := map[metrics.Role]string{
		metrics.RoleCert:   filepath.Join(dir, "live", "fullchain.pem"),
		metrics.RoleCopy:   filepath.Join(dir, "copy", "fullchain.pem"),
		metrics.RoleServed: filepath.Join(dir, "copy", "fullchain.pem"),
		metrics.RoleTrust:  filepath.Join(dir, "ca.pem"),
	}
	if !maps.Equal(got, want) {
		t.Errorf("path labels %v, want %v", got, want)
	}

	served := func(c metrics.Cert) bool { return c.Role == metrics.RoleServed }
	if slices.ContainsFunc(s.expiryCerts(), served) {
		t.Error("without metrics, the expiry warnings look at what the broker serves")
	}
	s.mon = metrics.New(metrics.Options{})
	if !slices.ContainsFunc(s.expiryCerts(), served) {
		t.Error("with metrics, the expiry warnings do not look at what the broker serves")
	}
}
