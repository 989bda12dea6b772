package mosquittoconf

import (
	"net"
	"strconv"
	"strings"
)

// DefaultPort is the port of the default listener when no `port` line
// sets it.
const DefaultPort = 1883

// TLS reports whether the listener serves TLS with a certificate of its
// own (a certfile line); a PSK-only listener has none.
func (l *Listener) TLS() bool {
	_, ok := l.Get("certfile")
	return ok
}

// Address is where the listener listens, as HOST:PORT: the bind address
// and port of its listener line (the port and bind_address lines for the
// default listener), HOST empty when it listens on every address. ok is
// false for a listener on a Unix socket (port 0) or a port that is not
// one. A bind_interface line is not looked at: such a listener shows as
// listening on every address.
func (l *Listener) Address() (addr string, ok bool) {
	port, host := strconv.Itoa(DefaultPort), ""
	if l.Decl.Line == 0 { // the default listener: port and bind_address lines
		if d, ok := l.Get("port"); ok {
			port = d.Value
		}
		if d, ok := l.Get("bind_address"); ok {
			host = d.Value
		}
	} else {
		f := strings.Fields(l.Decl.Value)
		if len(f) == 0 {
			return "", false
		}
		port = f[0]
		if len(f) > 1 {
			host = f[1]
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", false
	}
	return net.JoinHostPort(host, port), true
}
