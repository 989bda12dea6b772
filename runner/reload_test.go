package runner

import (
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// The broker must present a renewed certificate this soon after the files
// are in place (the issue's bound; the benchmark measures the median).
const servedWithin = 2 * time.Second

// layout is a way renewed certificates arrive on disk.
type layout struct {
	name string
	// setup writes the first pair and returns the --cert and --key paths.
	setup func(t *testing.T, dir string, cert, key []byte) (certPath, keyPath string)
	// renew puts the n-th pair in place the way the real tool does.
	renew func(t *testing.T, dir string, n int, cert, key []byte)
	copy  bool // serve copies from --copy-to instead of the files themselves
}

var layouts = []layout{
	{
		name: "certbot live links",
		setup: func(t *testing.T, dir string, cert, key []byte) (string, string) {
			live := testutil.CertbotRenew(t, dir, "example.com", 1, map[string][]byte{"cert": cert, "fullchain": cert, "privkey": key})
			return filepath.Join(live, "fullchain.pem"), filepath.Join(live, "privkey.pem")
		},
		renew: func(t *testing.T, dir string, n int, cert, key []byte) {
			testutil.CertbotRenew(t, dir, "example.com", n+1, map[string][]byte{"cert": cert, "fullchain": cert, "privkey": key})
		},
		copy: true,
	},
	{
		name: "kubernetes ..data swap",
		setup: func(t *testing.T, dir string, cert, key []byte) (string, string) {
			secret := filepath.Join(dir, "secret")
			testutil.KubeSwap(t, secret, "..2025_01_01_00_00_00.1", map[string][]byte{"tls.crt": cert, "tls.key": key})
			return filepath.Join(secret, "tls.crt"), filepath.Join(secret, "tls.key")
		},
		renew: func(t *testing.T, dir string, n int, cert, key []byte) {
			stamp := "..2025_02_01_00_00_00." + string(rune('0'+n))
			testutil.KubeSwap(t, filepath.Join(dir, "secret"), stamp, map[string][]byte{"tls.crt": cert, "tls.key": key})
		},
	},
	{
		name: "rename over",
		setup: func(t *testing.T, dir string, cert, key []byte) (string, string) {
			return testutil.WriteFile(t, dir, "server.pem", cert), testutil.WriteFile(t, dir, "server-key.pem", key)
		},
		renew: func(t *testing.T, dir string, n int, cert, key []byte) {
			testutil.RenameOver(t, filepath.Join(dir, "server-key.pem"), key)
			testutil.RenameOver(t, filepath.Join(dir, "server.pem"), cert)
		},
	},
}

// startWith writes the first pair in the layout, configures the broker to
// read it (or its copies) and starts certinit run with default settings
// and extra.
func startWith(t *testing.T, b *broker, l layout, extra ...string) *big.Int {
	cert, key, serial := b.issue(testutil.CertOpts{})
	certPath, keyPath := l.setup(t, b.dir, cert, key)
	args := []string{"--cert", certPath, "--key", keyPath}
	served := [2]string{certPath, keyPath}
	if l.copy {
		copyDir := filepath.Join(b.dir, "broker-certs")
		args = append(args, "--copy-to", copyDir)
		served = [2]string{filepath.Join(copyDir, filepath.Base(certPath)), filepath.Join(copyDir, filepath.Base(keyPath))}
	}
	b.writeConf(served[0], served[1], true)
	b.start(append(args, extra...)...)
	b.waitServed(serial, 10*time.Second)
	return serial
}

// startCopying starts certinit run with --copy-to and --debounce 100ms on
// a pair of plain files (layout "rename over") and returns their paths.
func startCopying(t *testing.T, b *broker) (certPath, keyPath string) {
	l := layouts[2]
	l.copy = true
	startWith(t, b, l, "--debounce", "100ms")
	return filepath.Join(b.dir, "server.pem"), filepath.Join(b.dir, "server-key.pem")
}

// TestRunRenewals: a renewal in each layout is served within 2 s, while a
// subscriber connected before it keeps its connection and its messages.
func TestRunRenewals(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			b := newBroker(t)
			startWith(t, b, l)
			sub := b.subscribe()

			cert, key, serial := b.issue(testutil.CertOpts{})
			l.renew(t, b.dir, 1, cert, key)
			took := b.waitServed(serial, servedWithin)
			t.Logf("renewed certificate served after %s", took)

			b.publish("after")
			waitGot(t, sub, "after")
			if n := sub.Connects(); n != 1 {
				t.Fatalf("subscriber connected %d times; the reload dropped it", n)
			}
		})
	}
}

// TestRunRefusesBadPairs: a mismatched pair, an expired certificate and a
// half-written file are refused, naming the file at fault: the broker
// keeps serving the old serial and new connections succeed; the next good
// pair is then loaded.
func TestRunRefusesBadPairs(t *testing.T) {
	l := layouts[2] // plain files, so a bad state can be written in place
	tests := []struct {
		name   string
		break_ func(t *testing.T, b *broker, certPath, keyPath string)
		badKey bool // the key is at fault, not the certificate
	}{
		{
			name: "key does not match",
			break_: func(t *testing.T, b *broker, certPath, keyPath string) {
				_, key, _ := b.issue(testutil.CertOpts{})
				testutil.RenameOver(t, keyPath, key)
			},
			badKey: true,
		},
		{
			name: "expired certificate",
			break_: func(t *testing.T, b *broker, certPath, keyPath string) {
				cert, key, _ := b.issue(testutil.CertOpts{NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
				testutil.RenameOver(t, keyPath, key)
				testutil.RenameOver(t, certPath, cert)
			},
		},
		{
			name: "half-written certificate",
			break_: func(t *testing.T, b *broker, certPath, keyPath string) {
				cert, key, _ := b.issue(testutil.CertOpts{})
				testutil.RenameOver(t, keyPath, key)
				// Written in place, stopped half-way.
				if err := os.WriteFile(certPath, cert[:len(cert)/2], 0o644); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBroker(t)
			old := startWith(t, b, l)
			certPath, keyPath := filepath.Join(b.dir, "server.pem"), filepath.Join(b.dir, "server-key.pem")

			tc.break_(t, b, certPath, keyPath)
			r := b.WaitRecords(testutil.Message("reload refused"), 1)
			bad := certPath
			if tc.badKey {
				bad = keyPath
			}
			if reason := r.Attrs["reason"]; !strings.HasPrefix(reason, bad+": ") || strings.Count(reason, bad) != 1 {
				t.Fatalf("refusal gives reason %q: want it to start with %s, named once", reason, bad)
			}
			// A fresh handshake still works and gets the old certificate.
			if got, err := b.served(); err != nil || got.Cmp(old) != 0 {
				t.Fatalf("after the refused change: serial %v, err %v; want the old %x", got, err, old)
			}
			b.publish("still works")

			cert, key, serial := b.issue(testutil.CertOpts{})
			l.renew(t, b.dir, 2, cert, key)
			b.waitServed(serial, servedWithin)
			if n := strings.Count(b.Out.String(), "Reloading config"); n != 1 {
				t.Fatalf("broker reloaded %d times, want once (only the good pair)", n)
			}
		})
	}
}

// TestRunOwner: the key copied with --owner mosquitto lets the broker,
// started as root, drop to user mosquitto and still load its key; without
// --owner the copy stays root-only and the broker cannot start, which is
// the failure people report.
func TestRunOwner(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name   string
		owner  []string
		starts bool
	}{
		{"owned by mosquitto", []string{"--owner", "mosquitto"}, true},
		{"root-only key", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBroker(t)
			cert, key, serial := b.issue(testutil.CertOpts{})
			src := filepath.Join(b.dir, "src")
			certPath, keyPath := testutil.WriteFile(t, src, "fullchain.pem", cert), testutil.WriteFile(t, src, "privkey.pem", key)
			if err := os.Chmod(src, 0o700); err != nil { // root's, like /etc/letsencrypt/archive
				t.Fatal(err)
			}
			copyDir := filepath.Join(b.dir, "certs")
			b.writeConf(filepath.Join(copyDir, "fullchain.pem"), filepath.Join(copyDir, "privkey.pem"), false, "user mosquitto")
			b.start(append([]string{"--cert", certPath, "--key", keyPath, "--copy-to", copyDir}, tc.owner...)...)
			if tc.starts {
				b.waitServed(serial, 10*time.Second)
				fi, err := os.Stat(filepath.Join(copyDir, "privkey.pem"))
				if err != nil {
					t.Fatal(err)
				}
				if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o600 || st.Uid == 0 {
					t.Fatalf("copied key: mode %v uid %d; want 0600 owned by mosquitto", fi.Mode().Perm(), st.Uid)
				}
				return
			}
			if code := b.Wait(10 * time.Second); code == 0 {
				t.Fatal("broker started with a key it cannot read?")
			}
			waitOutput(t, b.Certinit, "Unable to load server key file", 1)
		})
	}
}

// TestRunRestartOn: a change of the client-CA file (which Mosquitto only
// reads at start) restarts the broker; SIGTERM then stops it, certinit
// exits with its code, and no broker process is left (checked in cleanup).
func TestRunRestartOn(t *testing.T) {
	b := newBroker(t)
	cert, key, serial := b.issue(testutil.CertOpts{})
	certPath, keyPath := testutil.WriteFile(t, b.dir, "server.pem", cert), testutil.WriteFile(t, b.dir, "server-key.pem", key)
	clientCA := testutil.WriteFile(t, b.dir, "clients.pem", testutil.CertPEM(testutil.NewCA(t, "clients 1").Cert))
	b.writeConf(certPath, keyPath, true, "cafile "+clientCA)
	b.start("--cert", certPath, "--key", keyPath, "--restart-on", clientCA)
	b.waitServed(serial, 10*time.Second)
	first := b.ChildPIDs()

	testutil.RenameOver(t, clientCA, testutil.CertPEM(testutil.NewCA(t, "clients 2").Cert))
	b.WaitRecords(testutil.Message("child started"), 2)
	b.waitServed(serial, 10*time.Second)
	if pids := b.ChildPIDs(); len(pids) != 2 || pids[0] != first[0] {
		t.Fatalf("child pids %v after restart", pids)
	}
	if strings.Contains(b.Out.String(), "Reloading config") {
		t.Fatal("broker was signalled instead of restarted")
	}
	if syscall.Kill(first[0], 0) == nil {
		t.Fatalf("old broker %d still running", first[0])
	}

	b.Signal(syscall.SIGTERM)
	if code := b.Wait(15 * time.Second); code != 0 {
		t.Fatalf("certinit exited %d after SIGTERM, want Mosquitto's 0", code)
	}
}
