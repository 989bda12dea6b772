package mosquittoconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// loadText loads conf, written to a file of its own.
func loadText(t *testing.T, conf string) *Config {
	t.Helper()
	cfg, _, err := Load(testutil.WriteFile(t, t.TempDir(), "mosquitto.conf", []byte(conf)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// dialString is DialAddress in one word: "HOST:PORT", "HOST:PORT tls", or
// "-" where a client cannot dial (then " tls" still tells the TLS rule).
func dialString(l *Listener) string {
	addr, tls, ok := l.DialAddress()
	if !ok {
		addr = "-"
	}
	if tls {
		addr += " tls"
	}
	return addr
}

// TestDialAddress: where a client on this machine dials each listener of
// a configuration, and whether it speaks TLS there.
func TestDialAddress(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       []string // one per listener, in Config.Listeners order
	}{
		{"default listener without a port line: 1883 on every address", "max_qos 1\n", []string{"127.0.0.1:1883"}},
		{"default listener: port and bind_address", "port 1885\nbind_address 127.0.0.2\n", []string{"127.0.0.2:1885"}},
		{"every address", "listener 1883\nlistener 1884 0.0.0.0\nlistener 1885 ::\n",
			[]string{"127.0.0.1:1883", "127.0.0.1:1884", "[::1]:1885"}},
		{"socket_domain", "listener 1883\nsocket_domain ipv6\nlistener 1884\nsocket_domain ipv4\n",
			[]string{"[::1]:1883", "127.0.0.1:1884"}},
		{"a named address is kept", "listener 1883 mqtt.internal\nlistener 1884 127.0.0.2\n",
			[]string{"mqtt.internal:1883", "127.0.0.2:1884"}},
		{"a comment after the port is no address", "listener 1883 #plain\n", []string{"127.0.0.1:1883"}},
		{"websockets", "listener 9001\nprotocol websockets\nlistener 1883\nprotocol mqtt\n", []string{"-", "127.0.0.1:1883"}},
		{"Unix socket", "listener 0 /run/mqtt.sock\ncertfile /c.pem\nkeyfile /k.pem\n", []string{"- tls"}},
		{"invalid port", "listener 70000\nlistener x\n", []string{"-", "-"}},
		{"TLS: certfile and keyfile", "listener 8883\ncertfile /c.pem\nkeyfile /k.pem\n", []string{"127.0.0.1:8883 tls"}},
		{"TLS: psk_hint", "listener 8884\npsk_hint hint\nlistener 8885\npsk_hint hint\ncertfile /c.pem\n",
			[]string{"127.0.0.1:8884 tls", "127.0.0.1:8885 tls"}},
		{"half a pair is plain", "listener 8883\ncertfile /c.pem\nlistener 8884\nkeyfile /k.pem\n",
			[]string{"127.0.0.1:8883", "127.0.0.1:8884"}},
		{"TLS on the default listener", "certfile /c.pem\nkeyfile /k.pem\nlistener 1884\n", []string{"127.0.0.1:1883 tls", "127.0.0.1:1884"}},
		{"default listener Mosquitto does not open", "tls_version tlsv1.2\nmax_connections -1\nrequire_certificate false\nprotocol mqtt\nlistener 8883\n",
			[]string{"-", "127.0.0.1:8883"}},
		{"default listener opened by a per-listener security option", "per_listener_settings true\ntls_version tlsv1.2\npassword_file /p\nlistener 8883\n",
			[]string{"127.0.0.1:1883", "127.0.0.1:8883"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadText(t, tc.conf)
			var got []string
			for _, l := range cfg.Listeners {
				got = append(got, dialString(l))
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestServedCert: only a whole pair serves a certificate, with psk_hint
// or without.
func TestServedCert(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string // want: the certfile, "" for none
	}{
		{"pair", "listener 8883\ncertfile /c.pem\nkeyfile /k.pem\n", "/c.pem"},
		{"pair and psk_hint", "listener 8883\ncertfile /c.pem\nkeyfile /k.pem\npsk_hint h\n", "/c.pem"},
		{"certfile only", "listener 8883\ncertfile /c.pem\n", ""},
		{"certfile and psk_hint", "listener 8883\ncertfile /c.pem\npsk_hint h\n", ""},
		{"keyfile only", "listener 8883\nkeyfile /k.pem\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := loadText(t, tc.conf).Listeners[0].ServedCert()
			if d.Value != tc.want || ok != (tc.want != "") {
				t.Fatalf("ServedCert: %q, %v; want %q", d.Value, ok, tc.want)
			}
		})
	}
}

// TestEndpoints: the dialable listeners in configuration order, and
// Mosquitto's local-only listener where it opens none.
func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       []string
	}{
		{"no listener: local-only", "persistence false\n", []string{"127.0.0.1:1883"}},
		{"only options Mosquitto drops: local-only", "tls_version tlsv1.2\n", []string{"127.0.0.1:1883"}},
		{"only listeners no client dials: none", "listener 9001\nprotocol websockets\nlistener 0 /run/mqtt.sock\n", nil},
		{"in order, without what cannot be dialled", "listener 8883\ncertfile /c.pem\nkeyfile /k.pem\nlistener 9001\nprotocol websockets\nlistener 1883 127.0.0.1\n",
			[]string{"127.0.0.1:8883 tls", "127.0.0.1:1883"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadText(t, tc.conf)
			var got []string
			for _, e := range cfg.Endpoints() {
				s := e.Addr
				if e.TLS {
					s += " tls"
				}
				if e.Listener != nil && dialString(e.Listener) != s {
					t.Errorf("endpoint %q, its listener's DialAddress %q", s, dialString(e.Listener))
				}
				got = append(got, s)
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDialAddressMatchesMosquitto: a real Mosquitto accepts at the
// DialAddress of each of its listeners, and shakes TLS hands there exactly
// where DialAddress says it speaks TLS: with a certificate, with psk_hint
// only (it answers a client without a PSK with an alert), not with a
// certfile alone. A default listener Mosquitto does not open is not
// dialled, and the broker opens nothing on 1883.
func TestDialAddressMatchesMosquitto(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WritePair(t, dir, "cert.pem", "key.pem")
	pair := fmt.Sprintf("certfile %s\nkeyfile %s\n", cert, key)
	ports := []int{testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)}
	conf := "user root\nallow_anonymous true\ntls_version tlsv1.2\nmax_connections -1\n" +
		fmt.Sprintf("listener %d\n%s", ports[0], pair) +
		fmt.Sprintf("listener %d 127.0.0.1\npsk_hint hint\n", ports[1]) +
		fmt.Sprintf("listener %d 0.0.0.0\ncertfile %s\n", ports[2], cert) +
		fmt.Sprintf("listener %d ::\n", ports[3]) +
		fmt.Sprintf("listener %d\nsocket_domain ipv6\n", ports[4]) +
		fmt.Sprintf("listener 0 %s\n", filepath.Join(dir, "mqtt.sock"))
	b := mosquittotest.Start(t, dir, conf)
	if strings.Contains(b.Log(), "on port 1883.") {
		t.Fatalf("mosquitto opened the default listener; log:\n%s", b.Log())
	}
	cfg, probs, err := Load(b.ConfPath)
	if err != nil || len(probs) > 0 {
		t.Fatalf("Load: %v %v", probs, err)
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	want := []string{"-", "127.0.0.1:" + p(0) + " tls", "127.0.0.1:" + p(1) + " tls", "127.0.0.1:" + p(2),
		"[::1]:" + p(3), "[::1]:" + p(4), "-"}
	if len(cfg.Listeners) != len(want) {
		t.Fatalf("%d listeners, want %d", len(cfg.Listeners), len(want))
	}
	for i, l := range cfg.Listeners {
		if got := dialString(l); got != want[i] {
			t.Errorf("%s: DialAddress %q, want %q", l.Name(), got, want[i])
			continue
		}
		addr, wantTLS, ok := l.DialAddress()
		if !ok {
			continue
		}
		if gotTLS, err := speaksTLS(addr); err != nil {
			t.Errorf("%s: %v", l.Name(), err)
		} else if gotTLS != wantTLS {
			t.Errorf("%s at %s: mosquitto speaks TLS %v, DialAddress says %v", l.Name(), addr, gotTLS, wantTLS)
		}
	}
}

// speaksTLS connects to addr and starts a TLS handshake: a listener that
// completes it or answers with an alert speaks TLS; one that closes the
// connection read the ClientHello as MQTT.
func speaksTLS(addr string) (bool, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, fmt.Errorf("mosquitto does not accept at %s: %w", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	err = tls.Client(c, &tls.Config{InsecureSkipVerify: true}).Handshake()
	var op *net.OpError
	return err == nil || errors.As(err, &op) && op.Op == "remote error", nil
}
