package probe

import (
	"crypto/x509/pkix"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// checkFiles is a set of certificate files for check tests.
type checkFiles struct {
	p                                   *testPKI
	dir                                 string
	fullchain, key, otherKey, expired   string
	soon, capath, clientCert, clientKey string
}

func newCheckFiles(t *testing.T) *checkFiles {
	t.Helper()
	p := newPKI(t, "Check")
	dir := testutil.ReadableDir(t) // a broker that drops to its own user reads them
	leaf, key := p.inter.Issue(t, testutil.Localhost())
	_, otherKey := p.inter.Issue(t, testutil.Localhost())
	exp := testutil.Localhost()
	exp.NotBefore, exp.NotAfter = time.Now().Add(-72*time.Hour), time.Now().Add(-24*time.Hour)
	expLeaf, _ := p.inter.Issue(t, exp)
	soonOpts := testutil.Localhost()
	soonOpts.NotAfter = time.Now().Add(10 * 24 * time.Hour)
	soonLeaf, _ := p.inter.Issue(t, soonOpts)
	cLeaf, cKey := p.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "bridge-client"}})
	capath := filepath.Join(dir, "capath")
	testutil.WriteFile(t, capath, "root.pem", testutil.CertPEM(p.root.Cert))
	testutil.OpenSSLRehash(t, capath)
	return &checkFiles{
		p: p, dir: dir,
		fullchain:  testutil.WriteFile(t, dir, "fullchain.pem", testutil.CertPEM(leaf, p.inter.Cert)),
		key:        testutil.WriteFile(t, dir, "privkey.pem", testutil.KeyPEM(t, key)),
		otherKey:   testutil.WriteFile(t, dir, "other-privkey.pem", testutil.KeyPEM(t, otherKey)),
		expired:    testutil.WriteFile(t, dir, "expired.pem", testutil.CertPEM(expLeaf, p.inter.Cert)),
		soon:       testutil.WriteFile(t, dir, "soon.pem", testutil.CertPEM(soonLeaf, p.inter.Cert)),
		capath:     capath,
		clientCert: testutil.WriteFile(t, dir, "client.pem", testutil.CertPEM(cLeaf, p.inter.Cert)),
		clientKey:  testutil.WriteFile(t, dir, "client-key.pem", testutil.KeyPEM(t, cKey)),
	}
}

func currentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// conf writes a mosquitto.conf from lines; {{NAME}} placeholders name the
// files of f.
func (f *checkFiles) conf(t *testing.T, lines string) string {
	t.Helper()
	r := strings.NewReplacer("{{fullchain}}", f.fullchain, "{{key}}", f.key, "{{otherkey}}", f.otherKey,
		"{{expired}}", f.expired, "{{root}}", f.p.rootFile, "{{capath}}", f.capath, "{{dir}}", f.dir,
		"{{client}}", f.clientCert, "{{clientkey}}", f.clientKey, "{{soon}}", f.soon)
	return testutil.WriteFile(t, t.TempDir(), "mosquitto.conf", []byte(r.Replace(lines)))
}

func TestCheckMosquittoConf(t *testing.T) {
	f := newCheckFiles(t)
	head := "user " + currentUser(t) + "\nlistener 8883\n"
	good := head + "certfile {{fullchain}}\nkeyfile {{key}}\ncafile {{root}}\ncapath {{capath}}\nrequire_certificate true\ntls_version tlsv1.2\n" +
		"connection cloud\naddress broker.example:8883\ntopic # out\nbridge_cafile {{root}}\nbridge_certfile {{client}}\nbridge_keyfile {{clientkey}}\n"
	tests := []struct {
		name  string
		conf  string
		line  int    // line of the first problem; 0: no problem expected
		want  string // in the first problem
		extra func(t *testing.T)
	}{
		{"good", good, 0, "", nil},
		{"missing certfile", head + "certfile {{dir}}/nope.pem\nkeyfile {{key}}\n", 3, "nope.pem: does not exist", nil},
		{"key does not match", head + "certfile {{fullchain}}\nkeyfile {{otherkey}}\n", 4, "key does not match", nil},
		{"expired", head + "certfile {{expired}}\nkeyfile {{key}}\n", 3, "expired at", nil},
		{"certfile without keyfile", head + "certfile {{fullchain}}\n", 3, "WITHOUT TLS", nil},
		{"require_certificate without CA", head + "certfile {{fullchain}}\nkeyfile {{key}}\nrequire_certificate true\n", 5, "every client certificate is rejected", nil},
		{"cafile on a plain listener", head + "cafile {{root}}\n", 3, "not a TLS listener", nil},
		{"TLS-PSK listener", head + "psk_hint hint\ntls_version tlsv1.2\n", 0, "", nil},
		{"cafile on a TLS-PSK listener", head + "psk_hint hint\ncafile {{root}}\n", 4, "TLS-PSK only", nil},
		{"certfile without keyfile on a TLS-PSK listener", head + "psk_hint hint\ncertfile {{fullchain}}\n", 4, "only TLS-PSK", nil},
		{"capath without links", head + "certfile {{fullchain}}\nkeyfile {{key}}\ncapath {{dir}}/unlinked\n", 5, "has no hash link",
			func(t *testing.T) { testutil.WriteFile(t, f.dir, "unlinked/root.pem", testutil.CertPEM(f.p.root.Cert)) }},
		{"capath with a stale link", head + "certfile {{fullchain}}\nkeyfile {{key}}\ncapath {{dir}}/stale\n", 5, "is stale",
			func(t *testing.T) {
				d := filepath.Join(f.dir, "stale")
				testutil.WriteFile(t, d, "root.pem", testutil.CertPEM(f.p.root.Cert))
				testutil.OpenSSLRehash(t, d)
				testutil.WriteFile(t, d, "root.pem", testutil.CertPEM(f.p.inter.Cert)) // replaced behind the link's back
			}},
		{"bad tls_version", head + "certfile {{fullchain}}\nkeyfile {{key}}\ntls_version tlsv1\n", 5, "mosquitto refuses to start", nil},
		{"bridge_insecure", head + "connection b\naddress h:8883\ntopic # out\nbridge_cafile {{root}}\nbridge_insecure true\n", 7, "turns off the check", nil},
		{"bridge TLS without CA", head + "connection b\naddress h:8883\ntopic # out\nbridge_certfile {{client}}\nbridge_keyfile {{clientkey}}\n", 6, "WITHOUT TLS", nil},
		{"TLS bridge to the plain port", head + "connection b\naddress h\ntopic # out\nbridge_cafile {{root}}\n", 4, "plain MQTT port", nil},
		{"world-readable key", head + "certfile {{fullchain}}\nkeyfile {{dir}}/open-key.pem\n", 4, "readable by every user",
			func(t *testing.T) {
				data, _ := os.ReadFile(f.key)
				p := testutil.WriteFile(t, f.dir, "open-key.pem", data)
				os.Chmod(p, 0o644)
			}},
		{"syntax", head + "certfile\t{{fullchain}}\n", 3, "tab after", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.extra != nil {
				tc.extra(t)
			}
			conf := f.conf(t, tc.conf)
			probs, err := Check(CheckOptions{MosquittoConf: conf})
			if err != nil {
				t.Fatal(err)
			}
			if tc.line == 0 {
				if len(probs) > 0 {
					t.Fatalf("unexpected problems:\n%s", problemLines(probs))
				}
				return
			}
			if len(probs) == 0 || probs[0].Line != tc.line || probs[0].File != conf || !strings.Contains(probs[0].Msg, tc.want) {
				t.Fatalf("want first problem at %s:%d containing %q, got:\n%s", conf, tc.line, tc.want, problemLines(probs))
			}
		})
	}
}

// expectProblems runs Check and wants one problem per substring of want,
// in order.
func expectProblems(t *testing.T, opts CheckOptions, want ...string) {
	t.Helper()
	probs, err := Check(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(probs), len(want), problemLines(probs))
	}
	for i, w := range want {
		if !strings.Contains(probs[i].Msg, w) {
			t.Errorf("problem %d %q lacks %q", i, probs[i].Msg, w)
		}
	}
}

func problemLines(probs []Problem) string {
	var sb strings.Builder
	for _, p := range probs {
		fmt.Fprintln(&sb, p.String())
	}
	return sb.String()
}

func TestCheckIncludeDir(t *testing.T) {
	f := newCheckFiles(t)
	inc := filepath.Join(t.TempDir(), "conf.d")
	incFile := testutil.WriteFile(t, inc, "tls.conf", []byte("listener 8883\ncertfile "+f.expired+"\nkeyfile "+f.key+"\n"))
	conf := f.conf(t, "user "+currentUser(t)+"\ninclude_dir "+inc+"\n")
	probs, err := Check(CheckOptions{MosquittoConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) == 0 || probs[0].File != incFile || probs[0].Line != 2 || !strings.Contains(probs[0].Msg, "expired") {
		t.Fatalf("want the expired certfile at %s:2, got:\n%s", incFile, problemLines(probs))
	}
}

func TestCheckFlags(t *testing.T) {
	f := newCheckFiles(t)
	other := newPKI(t, "Elsewhere")
	tests := []struct {
		name string
		opts CheckOptions
		want []string // one substring per expected problem, in order
	}{
		{"good pair", CheckOptions{CertFile: f.fullchain, KeyFile: f.key, CAFile: f.p.rootFile}, nil},
		{"good pair, capath", CheckOptions{CertFile: f.fullchain, KeyFile: f.key, CAPath: f.capath}, nil},
		{"mismatch", CheckOptions{CertFile: f.fullchain, KeyFile: f.otherKey}, []string{"key does not match"}},
		{"expired", CheckOptions{CertFile: f.expired, KeyFile: f.key, CAFile: f.p.rootFile}, []string{"expired at", "key does not match"}},
		{"min validity", CheckOptions{CertFile: f.soon, MinValidity: 30 * 24 * time.Hour}, []string{"less than --min-validity 720h0m0s"}},
		{"min validity met", CheckOptions{CertFile: f.soon, MinValidity: 5 * 24 * time.Hour}, nil},
		{"wrong CA", CheckOptions{CertFile: f.fullchain, CAFile: other.rootFile}, []string{`the issuer "CN=Check Root,O=certinit test" of "Check Intermediate" is missing`}},
		{"missing file", CheckOptions{CertFile: filepath.Join(f.dir, "none.pem")}, []string{"does not exist"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expectProblems(t, tc.opts, tc.want...) })
	}
	if _, err := Check(CheckOptions{}); err == nil {
		t.Error("empty options accepted")
	}
}

// TestCheckUnreadable: a FIFO, a device, a directory or an oversized file
// given as --cert, --key or --cafile, named by a mosquitto.conf, or as the
// mosquitto.conf itself or in its include_dir, is one problem naming the
// path once; Check never blocks on it.
func TestCheckUnreadable(t *testing.T) {
	f := newCheckFiles(t)
	for _, k := range testutil.UnreadableFiles {
		t.Run(k.Name, func(t *testing.T) {
			dir := t.TempDir()
			bad := filepath.Join(dir, "bad.pem")
			k.Make(t, bad)
			badConf := filepath.Join(dir, "bad.conf")
			k.Make(t, badConf)
			inc := filepath.Join(dir, "conf.d")
			k.Make(t, filepath.Join(inc+".tmp"))
			if err := os.Mkdir(inc, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(inc+".tmp", filepath.Join(inc, "x.conf")); err != nil {
				t.Fatal(err)
			}
			conf := f.conf(t, "user "+currentUser(t)+"\nlistener 8883\ncertfile "+bad+"\nkeyfile {{key}}\ninclude_dir "+inc+"\n")
			for _, tc := range []struct {
				name string
				opts CheckOptions
				path string // the path every problem names once
			}{
				{"--cert", CheckOptions{CertFile: bad}, bad},
				{"--key", CheckOptions{CertFile: f.fullchain, KeyFile: bad}, bad},
				{"--cafile", CheckOptions{CAFile: bad}, bad},
				{"certfile in mosquitto.conf", CheckOptions{MosquittoConf: conf}, bad},
				{"include_dir", CheckOptions{MosquittoConf: conf}, filepath.Join(inc, "x.conf")},
				{"--mosquitto-conf", CheckOptions{MosquittoConf: badConf}, badConf},
			} {
				probs := checkWithin(t, tc.opts)
				var naming []string
				for _, p := range probs {
					if n := strings.Count(p.String(), tc.path); n > 1 {
						t.Errorf("%s: %q names %s %d times", tc.name, p, tc.path, n)
					} else if n == 1 {
						naming = append(naming, p.String())
					}
				}
				if len(naming) != 1 {
					t.Errorf("%s: %d problems name %s, want one:\n%s", tc.name, len(naming), tc.path, problemLines(probs))
				}
			}
		})
	}
}

// checkWithin is Check, failing the test if it does not return in time.
func checkWithin(t *testing.T, opts CheckOptions) []Problem {
	t.Helper()
	done := make(chan []Problem, 1)
	go func() {
		probs, err := Check(opts)
		if err != nil {
			probs = append(probs, Problem{File: "Check", Msg: err.Error()})
		}
		done <- probs
	}()
	select {
	case probs := <-done:
		return probs
	case <-time.After(10 * time.Second):
		t.Fatalf("Check(%+v) blocked", opts)
		return nil
	}
}
