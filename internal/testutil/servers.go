package testutil

import (
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// Servers on 127.0.0.1 that a test points a client at.

// connDeadline bounds each connection ServeTCP accepts, so that a client
// that hangs cannot keep a test's server busy past the test.
const connDeadline = 20 * time.Second

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPAndTCPPort returns a port on 127.0.0.1 that was free for both UDP
// and TCP a moment ago, for a DNS server (which listens on both).
func FreeUDPAndTCPPort(t testing.TB) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// ServeTCP runs handle, on a goroutine of its own, for every connection to
// a fresh port on 127.0.0.1 until the test ends, and returns the address.
// handle need not close the connection.
func ServeTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var closed atomic.Bool
	t.Cleanup(func() { closed.Store(true); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(connDeadline))
			go func() {
				defer c.Close()
				if !closed.Load() {
					handle(c)
				}
			}()
		}
	}()
	return l.Addr().String()
}

// ServeTLS runs a crypto/tls server with cfg (ServeTCP) that completes each
// handshake and then reads until the client leaves.
func ServeTLS(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	return ServeTCP(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if tc.Handshake() == nil {
			io.Copy(io.Discard, tc)
		}
		tc.Close()
	})
}
