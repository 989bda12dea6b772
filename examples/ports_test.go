package examples

import (
	"net"
	"strconv"
)

// The ports an example's certinit listens on (ACME challenges, metrics),
// which its container must publish.

// challengeListener is one of certinit's ACME challenge listeners.
type challengeListener struct {
	flag   string // acme-http-addr or acme-tls-addr
	addr   string // as the container sets it (or the default); "" when disabled
	public int    // the host port the CA validates it on
}

// challengeListeners returns a container's two listeners.
func challengeListeners(s map[string]string) []challengeListener {
	ls := []challengeListener{{"acme-http-addr", ":80", 80}, {"acme-tls-addr", ":443", 443}}
	for i := range ls {
		if v, ok := s[ls[i].flag]; ok {
			ls[i].addr = v
		}
	}
	return ls
}

// port is the container port the listener binds.
func (l challengeListener) port() (int, error) {
	_, p, err := net.SplitHostPort(l.addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// checkChallengePorts requires each enabled challenge listener of a
// container that orders from an ACME CA to be published on the host port
// the CA validates it on: otherwise the CA may try that challenge type
// first and fail, and Let's Encrypt limits failed validations. Containers
// that declare no port mappings (Kubernetes) are not checked.
func checkChallengePorts(c *container, s map[string]string, errorf func(string, ...any)) {
	if s["acme-domain"] == "" || s["acme-issuer"] == "local" || c.published == nil {
		return
	}
	for _, l := range challengeListeners(s) {
		if l.addr == "" {
			continue
		}
		port, err := l.port()
		if err != nil {
			errorf("--%s %q: want [HOST]:PORT", l.flag, l.addr)
			continue
		}
		if c.published[port] != l.public {
			errorf("--%s %s: the CA validates on the host's port %d, which is not published to %d: an order may begin with a failed validation "+
				"(Let's Encrypt allows 5 an hour per name); publish %d:%d or disable the listener with --%s \"\"", l.flag, l.addr, l.public, port, l.public, port, l.flag)
		}
	}
}

// metricsPort is the port of a container's --metrics-addr.
func metricsPort(settings map[string]string) (int, bool) {
	_, p, err := net.SplitHostPort(settings["metrics-addr"])
	if err != nil {
		return 0, false
	}
	port, err := strconv.Atoi(p)
	return port, err == nil
}
