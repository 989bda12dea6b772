package mosquittoconf

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// TestListenerAddress: Address finds where each listener of a real
// Mosquitto listens, and a client of this machine connects there (Go's
// dialer reaches an address for every interface on this machine): the
// default listener (port, bind_address), listener lines with and without
// an address, and none for a Unix socket.
func TestListenerAddress(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WritePair(t, dir, "cert.pem", "key.pem")
	tls := fmt.Sprintf("certfile %s\nkeyfile %s\n", cert, key)
	ports := []int{testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)}
	conf := fmt.Sprintf("user root\nallow_anonymous true\nport %d\nbind_address 127.0.0.1\n%s", ports[0], tls) +
		fmt.Sprintf("listener %d\n%s", ports[1], tls) +
		fmt.Sprintf("listener %d 127.0.0.1\n%s", ports[2], tls) +
		fmt.Sprintf("listener %d 0.0.0.0\n", ports[3]) +
		fmt.Sprintf("listener 0 %s\n", filepath.Join(dir, "mqtt.sock"))
	b := mosquittotest.Start(t, dir, conf)
	cfg, probs, err := Load(b.ConfPath)
	if err != nil || len(probs) > 0 {
		t.Fatalf("Load: %v %v", probs, err)
	}
	want := []struct {
		addr string
		tls  bool
	}{
		{"127.0.0.1:" + strconv.Itoa(ports[0]), true},
		{":" + strconv.Itoa(ports[1]), true},
		{"127.0.0.1:" + strconv.Itoa(ports[2]), true},
		{"0.0.0.0:" + strconv.Itoa(ports[3]), false},
		{"", false},
	}
	if len(cfg.Listeners) != len(want) {
		t.Fatalf("%d listeners, want %d", len(cfg.Listeners), len(want))
	}
	for i, l := range cfg.Listeners {
		addr, ok := l.Address()
		if addr != want[i].addr || ok != (want[i].addr != "") || l.TLS() != want[i].tls {
			t.Errorf("%s: Address %q, %v, TLS %v; want %q, TLS %v", l.Name(), addr, ok, l.TLS(), want[i].addr, want[i].tls)
			continue
		}
		if !ok {
			continue
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Errorf("%s: mosquitto does not accept at %s: %v", l.Name(), addr, err)
			continue
		}
		c.Close()
	}
}
