package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/mosquittoconf"
	"github.com/certinit/certinit/reload"
)

// rulesFixture is a broker configuration naming one file or directory of
// each kind, under a temporary directory, with rules that have seen it as
// the broker starts.
type rulesFixture struct {
	t                                         *testing.T
	dir                                       string
	cert, key, crl, cafile, capath            string
	bridgeCA, bridgeCapath, bridgeCert, watch string
	rules                                     *brokerRules
}

func newRulesFixture(t *testing.T, cfg Config) *rulesFixture {
	dir := t.TempDir()
	ca := testutil.NewCA(t, "rules CA")
	f := &rulesFixture{t: t, dir: dir, capath: testutil.Mkdir(t, filepath.Join(dir, "capath")),
		bridgeCapath: testutil.Mkdir(t, filepath.Join(dir, "bridge-capath"))}
	f.cert, f.key = testutil.WritePair(t, dir, "server.pem", "server-key.pem")
	f.crl = testutil.WriteFile(t, dir, "crl.pem", []byte("crl 1"))
	f.cafile = testutil.WriteFile(t, dir, "clients.pem", testutil.CertPEM(ca.Cert))
	f.bridgeCA = testutil.WriteFile(t, dir, "hub-ca.pem", testutil.CertPEM(ca.Cert))
	f.bridgeCert = testutil.WriteFile(t, dir, "bridge.pem", []byte("bridge cert 1"))
	f.watch = testutil.WriteFile(t, dir, "marker", []byte("0"))
	f.addCA("first")
	conf := testutil.WriteFile(t, dir, "mosquitto.conf", []byte(strings.Join([]string{
		"listener 8883",
		"certfile " + f.cert, "keyfile " + f.key, "crlfile " + f.crl,
		"cafile " + f.cafile, "capath " + f.capath,
		"connection hub", "address 127.0.0.1:1",
		"bridge_cafile " + f.bridgeCA, "bridge_capath " + f.bridgeCapath,
		"bridge_certfile " + f.bridgeCert, "bridge_keyfile " + f.bridgeCert,
	}, "\n")+"\n"))
	mc, probs, err := mosquittoconf.Load(conf)
	if err != nil || len(probs) > 0 {
		t.Fatalf("load %s: %v %v", conf, err, probs)
	}
	cfg.Watch = append(cfg.Watch, f.watch)
	f.rules = newBrokerRules(mc, cfg, testutil.Logger(t))
	f.rules.restarted()
	return f
}

// addCA puts a new CA into the listener's capath, linked by openssl rehash.
func (f *rulesFixture) addCA(name string) string {
	p := testutil.WriteFile(f.t, f.capath, name+".pem", testutil.CertPEM(testutil.NewCA(f.t, name).Cert))
	testutil.OpenSSLRehash(f.t, f.capath)
	return p
}

// removeCA takes a CA out of the capath and rehashes it.
func (f *rulesFixture) removeCA(name string) {
	if err := os.Remove(filepath.Join(f.capath, name+".pem")); err != nil {
		f.t.Fatal(err)
	}
	testutil.OpenSSLRehash(f.t, f.capath)
}

func (f *rulesFixture) decide(floor reload.Decision, changed ...string) reload.Decision {
	return f.rules.Decide(changed, floor)
}

// TestRulesDecide: what each change of a file the configuration names
// needs, and the rule the decision names, on real files: the table of
// docs/run.md.
func TestRulesDecide(t *testing.T) {
	pairFloor := reload.Decision{Action: reload.Signal, Rule: reload.RuleSignal}
	tests := []struct {
		name     string
		cfg      Config
		change   func(f *rulesFixture) (changed []string, floor reload.Decision)
		action   reload.Action
		rule     string
		path     func(f *rulesFixture) string
		option   string
		thenSame bool // deciding again with nothing changed needs nothing
	}{
		{
			name: "the pair (certfile, keyfile): signal",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				f.cert, f.key = testutil.WritePair(f.t, f.dir, "server.pem", "server-key.pem")
				return []string{f.cert, f.key}, pairFloor
			},
			action: reload.Signal, rule: reload.RuleSighup, path: func(f *rulesFixture) string { return f.cert }, option: "certfile",
		},
		{
			name: "crlfile: signal",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				testutil.RenameOver(f.t, f.crl, []byte("crl 2"))
				return []string{f.crl}, reload.Decision{}
			},
			action: reload.Signal, rule: reload.RuleSighup, path: func(f *rulesFixture) string { return f.crl }, option: "crlfile",
		},
		{
			name: "listener cafile: restart",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				testutil.RenameOver(f.t, f.cafile, testutil.CertPEM(testutil.NewCA(f.t, "clients 2").Cert))
				return []string{f.cafile}, reload.Decision{}
			},
			action: reload.Restart, rule: reload.RuleRestart, path: func(f *rulesFixture) string { return f.cafile }, option: "cafile",
			thenSame: true,
		},
		{
			name: "a CA added to the listener capath: nothing",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				f.addCA("second")
				return []string{f.capath}, reload.Decision{}
			},
			action: reload.Nothing, rule: reload.RuleNone, path: func(f *rulesFixture) string { return f.capath }, option: "capath",
			thenSame: true,
		},
		{
			name: "a CA removed from the listener capath: restart",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				f.removeCA("first")
				return []string{f.capath}, reload.Decision{}
			},
			action: reload.Restart, rule: reload.RuleRestart, path: func(f *rulesFixture) string { return f.capath }, option: "capath",
			thenSame: true,
		},
		{
			name: "a CA replaced under its link: restart",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				link := filepath.Join(f.capath, testutil.SubjectHash(f.t, filepath.Join(f.capath, "first.pem"))+".0")
				ca := testutil.NewCA(f.t, "first") // same name, same hash, another key
				testutil.RenameOver(f.t, filepath.Join(f.capath, "first.pem"), testutil.CertPEM(ca.Cert))
				if _, err := os.Stat(link); err != nil {
					f.t.Fatal(err)
				}
				return []string{f.capath}, reload.Decision{}
			},
			action: reload.Restart, rule: reload.RuleRestart, path: func(f *rulesFixture) string { return f.capath }, option: "capath",
		},
		{
			name: "a file without a lookup name in the capath: nothing the broker reads",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				testutil.WriteFile(f.t, f.capath, "notes.txt", []byte("not linked"))
				return []string{f.capath}, reload.Decision{}
			},
			action: reload.Nothing, rule: reload.RuleNone, path: func(*rulesFixture) string { return "" },
		},
		{
			name: "bridge_cafile: nothing",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				testutil.RenameOver(f.t, f.bridgeCA, testutil.CertPEM(testutil.NewCA(f.t, "hub 2").Cert))
				return []string{f.bridgeCA}, reload.Decision{}
			},
			action: reload.Nothing, rule: reload.RuleNone, path: func(f *rulesFixture) string { return f.bridgeCA }, option: "bridge_cafile",
		},
		{
			name: "bridge_capath: nothing",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				testutil.WriteFile(f.t, f.bridgeCapath, "hub.pem", testutil.CertPEM(testutil.NewCA(f.t, "hub").Cert))
				testutil.OpenSSLRehash(f.t, f.bridgeCapath)
				return []string{f.bridgeCapath}, reload.Decision{}
			},
			action: reload.Nothing, rule: reload.RuleNone, path: func(f *rulesFixture) string { return f.bridgeCapath }, option: "bridge_capath",
		},
		{
			name: "bridge_certfile and bridge_keyfile: nothing",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				testutil.RenameOver(f.t, f.bridgeCert, []byte("bridge cert 2"))
				return []string{f.bridgeCert}, reload.Decision{}
			},
			action: reload.Nothing, rule: reload.RuleNone, path: func(f *rulesFixture) string { return f.bridgeCert }, option: "bridge_certfile",
		},
		{
			name: "--restart-on overrides: a bridge file restarts",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				testutil.RenameOver(f.t, f.bridgeCA, testutil.CertPEM(testutil.NewCA(f.t, "hub 3").Cert))
				return []string{f.bridgeCA}, reload.Decision{Action: reload.Restart, Rule: reload.RuleRestartOn, Path: f.bridgeCA, Reason: "a --restart-on file changed"}
			},
			action: reload.Restart, rule: reload.RuleRestartOn, path: func(f *rulesFixture) string { return f.bridgeCA },
		},
		{
			name: "a --watch path the configuration does not name: signal",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				testutil.RenameOver(f.t, f.watch, []byte("1"))
				return []string{f.watch}, reload.Decision{}
			},
			action: reload.Signal, rule: reload.RuleSignal, path: func(f *rulesFixture) string { return f.watch },
		},
		{
			name: "a --trust file changed: every named file is compared",
			cfg:  Config{Trust: []string{"/trust/ca.pem"}},
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				f.removeCA("first") // as the trust install into a dir: capath would
				return []string{"/trust/ca.pem"}, reload.Decision{}
			},
			action: reload.Restart, rule: reload.RuleRestart, path: func(f *rulesFixture) string { return f.capath }, option: "capath",
		},
		{
			name: "a capath change seen only through its own path",
			change: func(f *rulesFixture) ([]string, reload.Decision) {
				f.removeCA("first")
				return []string{f.crl}, reload.Decision{} // the crlfile did not change; the capath is not looked at
			},
			action: reload.Nothing, rule: reload.RuleNone, path: func(*rulesFixture) string { return "" },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRulesFixture(t, tc.cfg)
			changed, floor := tc.change(f)
			d := f.decide(floor, changed...)
			if d.Action != tc.action || d.Rule != tc.rule || d.Path != tc.path(f) || d.Option != tc.option {
				t.Fatalf("decision %+v; want action %d rule %q path %q option %q", d, tc.action, tc.rule, tc.path(f), tc.option)
			}
			if d.Reason == "" {
				t.Errorf("decision %+v gives no reason", d)
			}
			if tc.thenSame {
				if again := f.decide(reload.Decision{}, changed...); again.Action != reload.Nothing || again.Path != "" {
					t.Fatalf("deciding again without a change: %+v", again)
				}
			}
		})
	}
}

// TestRulesCapathRemembersFoundCAs: a CA added to a capath needs nothing,
// but the broker may have found it since; taking it out again needs a
// restart although the capath then holds what the broker started with.
func TestRulesCapathRemembersFoundCAs(t *testing.T) {
	f := newRulesFixture(t, Config{})
	f.addCA("visitor")
	if d := f.decide(reload.Decision{}, f.capath); d.Action != reload.Nothing || d.Rule != reload.RuleNone || d.Path != f.capath {
		t.Fatalf("added: %+v", d)
	}
	f.removeCA("visitor")
	if d := f.decide(reload.Decision{}, f.capath); d.Action != reload.Restart || d.Path != f.capath {
		t.Fatalf("removed after being added: %+v", d)
	}
}

// TestRulesCapathGap: a CA linked after a gap in the capath's numbering,
// which OpenSSL's lookup never reaches (as openssl verify -CApath shows),
// is not held by the broker: taking it out again needs nothing, unlike a
// CA the lookup finds (TestRulesCapathRemembersFoundCAs).
func TestRulesCapathGap(t *testing.T) {
	f := newRulesFixture(t, Config{})
	ca := testutil.NewCA(t, "behind a gap")
	file := testutil.WriteFile(t, f.capath, "gap.pem", testutil.CertPEM(ca.Cert))
	testutil.Symlink(t, "gap.pem", filepath.Join(f.capath, testutil.SubjectHash(t, file)+".1"))
	leaf, _ := ca.Issue(t, testutil.CertOpts{})
	if testutil.OpenSSLVerify(t, testutil.WriteFile(t, t.TempDir(), "leaf.pem", testutil.CertPEM(leaf)), testutil.VerifyFiles{CApath: f.capath}).OK {
		t.Fatal("openssl verify finds the CA behind the gap")
	}
	if d := f.decide(reload.Decision{}, f.capath); d.Action != reload.Nothing {
		t.Fatalf("added: %+v", d)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if d := f.decide(reload.Decision{}, f.capath); d.Action != reload.Nothing {
		t.Fatalf("removed after being added behind a gap: %+v", d)
	}
}

// TestRulesStrongestWins: a change of several files is decided by the
// most disruptive rule, and a pair change names the configuration's
// certfile rather than the default rule.
func TestRulesStrongestWins(t *testing.T) {
	f := newRulesFixture(t, Config{})
	testutil.RenameOver(t, f.bridgeCA, testutil.CertPEM(testutil.NewCA(t, "hub 2").Cert))
	testutil.RenameOver(t, f.crl, []byte("crl 2"))
	if d := f.decide(reload.Decision{}, f.bridgeCA, f.crl); d.Action != reload.Signal || d.Path != f.crl {
		t.Fatalf("bridge file and crlfile: %+v", d)
	}
	f.addCA("second")
	testutil.RenameOver(t, f.cafile, testutil.CertPEM(testutil.NewCA(t, "clients 2").Cert))
	if d := f.decide(reload.Decision{}, f.capath, f.cafile); d.Action != reload.Restart || d.Path != f.cafile {
		t.Fatalf("capath addition and cafile: %+v", d)
	}
}

// TestBrokerConf: the configuration comes from --mosquitto-conf, else
// from mosquitto's own -c (or --config-file) on COMMAND's line, and from
// no other program's.
func TestBrokerConf(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Command: []string{"mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"}}, "/etc/mosquitto/mosquitto.conf"},
		{Config{Command: []string{"/usr/sbin/mosquitto", "-v", "--config-file", "m.conf"}}, "m.conf"},
		{Config{Command: []string{"mosquitto", "-c", "a.conf", "-c", "b.conf"}}, "b.conf"},
		{Config{Command: []string{"mosquitto", "-c"}}, ""},
		{Config{Command: []string{"mosquitto"}}, ""},
		{Config{Command: []string{"sh", "-c", "exec mosquitto -c x.conf"}}, ""},
		{Config{Command: []string{"sh", "-c", "x"}, MosquittoConf: "/conf/m.conf"}, "/conf/m.conf"},
	} {
		if got := tc.cfg.brokerConf(); got != tc.want {
			t.Errorf("%q with --mosquitto-conf %q: %q, want %q", tc.cfg.Command, tc.cfg.MosquittoConf, got, tc.want)
		}
	}
}
