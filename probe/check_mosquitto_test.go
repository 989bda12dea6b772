package probe

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// These tests back check's claims about mosquitto with the broker itself:
// what check calls a problem must be one for mosquitto 2.0.

// TestCheckCertfileWithoutKeyfileIsPlain: mosquitto runs such a listener
// without TLS, so a plain MQTT client gets through.
func TestCheckCertfileWithoutKeyfileIsPlain(t *testing.T) {
	pub := testutil.RequireTool(t, "mosquitto_pub")
	f := newCheckFiles(t)
	port := testutil.FreePort(t)
	conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nallow_anonymous true\n", port, f.fullchain)
	b := mosquittotest.Start(t, t.TempDir(), conf)
	probs, err := Check(CheckOptions{MosquittoConf: b.ConfPath})
	if err != nil || len(probs) != 1 || !strings.Contains(probs[0].Msg, "WITHOUT TLS") {
		t.Fatalf("check: %v\n%s", err, problemLines(probs))
	}
	out, err := exec.Command(pub, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "t", "-m", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("plain mosquitto_pub failed, so the listener is not plain after all: %v\n%s", err, out)
	}
}

// TestCheckReadableByBrokerUser starts mosquitto as root so that it drops
// to the mosquitto user, with a key that user cannot read and then with one
// it can.
func TestCheckReadableByBrokerUser(t *testing.T) {
	testutil.RequireRoot(t)
	grp, err := user.LookupGroup("mosquitto")
	if err != nil {
		// Debian's mosquitto package creates the group; in CI a missing
		// group is a missing component.
		msg := "no mosquitto group (install Debian's mosquitto package: make deps): " + err.Error()
		if testutil.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	gid, _ := strconv.Atoi(grp.Gid)
	f := newCheckFiles(t)
	tests := []struct {
		name    string
		mode    os.FileMode
		gid     int
		started bool
	}{
		{"root only", 0o600, 0, false},
		{"group mosquitto", 0o640, gid, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chown(f.key, 0, tc.gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f.key, tc.mode); err != nil {
				t.Fatal(err)
			}
			conf := fmt.Sprintf("listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n", testutil.FreePort(t), f.fullchain, f.key)
			b, started := mosquittotest.Run(t, t.TempDir(), conf)
			probs, err := Check(CheckOptions{MosquittoConf: b.ConfPath})
			if err != nil {
				t.Fatal(err)
			}
			if started != tc.started || started != (len(probs) == 0) {
				t.Fatalf("mosquitto started=%v (want %v), check found:\n%s\nlog:\n%s", started, tc.started, problemLines(probs), b.Log())
			}
			if !started && !strings.Contains(probs[0].Msg, "not readable by user mosquitto") {
				t.Fatalf("problem: %s", probs[0])
			}
		})
	}
}

// TestCheckBadTLSVersionStopsMosquitto: the broker refuses the value check
// reports.
func TestCheckBadTLSVersionStopsMosquitto(t *testing.T) {
	f := newCheckFiles(t)
	conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\ntls_version tlsv1\n", testutil.FreePort(t), f.fullchain, f.key)
	b, started := mosquittotest.Run(t, t.TempDir(), conf)
	if started {
		t.Fatalf("mosquitto started with tls_version tlsv1:\n%s", b.Log())
	}
	probs, _ := Check(CheckOptions{MosquittoConf: b.ConfPath})
	if len(probs) != 1 || probs[0].Line != 5 {
		t.Fatalf("check found:\n%s", problemLines(probs))
	}
}

// TestCheckRequireCertificateWithoutCA: mosquitto starts, and rejects a
// client certificate from the very CA that issued the server's.
func TestCheckRequireCertificateWithoutCA(t *testing.T) {
	f := newCheckFiles(t)
	port := testutil.FreePort(t)
	conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\nrequire_certificate true\nallow_anonymous true\n", port, f.fullchain, f.key)
	b := mosquittotest.Start(t, t.TempDir(), conf)
	probs, _ := Check(CheckOptions{MosquittoConf: b.ConfPath})
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, "every client certificate is rejected") {
		t.Fatalf("check found:\n%s", problemLines(probs))
	}
	rep := run(t, Options{Address: "127.0.0.1:" + strconv.Itoa(port), ServerName: "localhost", CAFile: f.p.rootFile,
		CertFile: f.clientCert, KeyFile: f.clientKey, MQTT: true})
	expect(t, rep, VerdictClientCertRequired, "rejected the client certificate")
}

// TestCheckBridgeWithoutCAIsPlain: a bridge with a client certificate but
// no bridge_cafile sends its CONNECT in clear text.
func TestCheckBridgeWithoutCAIsPlain(t *testing.T) {
	f := newCheckFiles(t)
	first := make(chan byte, 1)
	remote := testutil.ServeTCP(t, func(c net.Conn) {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err == nil {
			select {
			case first <- b[0]:
			default:
			}
		}
	})
	conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\nconnection up\naddress %s\ntopic # out\nbridge_certfile %s\nbridge_keyfile %s\n",
		testutil.FreePort(t), remote, f.clientCert, f.clientKey)
	b := mosquittotest.Start(t, t.TempDir(), conf)
	probs, _ := Check(CheckOptions{MosquittoConf: b.ConfPath})
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, "WITHOUT TLS") {
		t.Fatalf("check found:\n%s", problemLines(probs))
	}
	select {
	case got := <-first:
		if got != 0x10 {
			t.Fatalf("bridge's first byte %#x, want 0x10 (a plain MQTT CONNECT)", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the bridge never connected; log:\n%s", b.Log())
	}
}
