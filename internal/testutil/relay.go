package testutil

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Relay forwards TCP connections from its own address to an upstream
// address, which can change while it runs. Tests put it in front of a
// server to count the connections a client makes, to make the server look
// down (no upstream: every connection is closed at once, as a stopped
// server's port refuses it) and to act at the moment a connection arrives
// (Before).
type Relay struct {
	ln    net.Listener
	count atomic.Int64
	wg    sync.WaitGroup

	mu       sync.Mutex
	upstream string
	before   func()
}

// StartRelay listens on addr ("127.0.0.1:0" for any free port) and relays
// to upstream ("" for none until SetUpstream). It stops when the test ends.
func StartRelay(t testing.TB, addr, upstream string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, upstream: upstream}
	r.wg.Go(r.serve)
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return r
}

// Addr is the address clients connect to.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Connections counts the connections accepted so far.
func (r *Relay) Connections() int64 { return r.count.Load() }

// SetUpstream changes where new connections go; "" closes them at once.
func (r *Relay) SetUpstream(addr string) {
	r.mu.Lock()
	r.upstream = addr
	r.mu.Unlock()
}

// Before sets f (nil: nothing) to run on each new connection's goroutine
// before it is relayed: to block, delay or act while a client waits.
func (r *Relay) Before(f func()) {
	r.mu.Lock()
	r.before = f
	r.mu.Unlock()
}

func (r *Relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.count.Add(1)
		r.mu.Lock()
		up, before := r.upstream, r.before
		r.mu.Unlock()
		r.wg.Go(func() { relay(c, up, before) })
	}
}

// relay copies between c and a new connection to up until either side
// ends, then closes both (the protocols relayed need no half-close).
func relay(c net.Conn, up string, before func()) {
	defer c.Close()
	if before != nil {
		before()
	}
	if up == "" {
		return
	}
	u, err := net.Dial("tcp", up)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(u, c)
		u.Close()
		c.Close()
		close(done)
	}()
	io.Copy(c, u)
	c.Close()
	u.Close()
	<-done
}
