package mosquittoconf

import (
	"net"
	"slices"
	"strconv"
	"strings"
)

// DefaultPort is the port of the default listener when no `port` line
// sets it, and of the local-only listener.
const DefaultPort = 1883

// LocalOnlyAddr is where a client reaches a broker whose configuration
// opens no listener: Mosquitto 2.0 then starts "in local only mode",
// plain MQTT on port 1883 of 127.0.0.1 and ::1.
const LocalOnlyAddr = "127.0.0.1:1883"

// TLS reports whether the listener speaks TLS: it serves a certificate
// (ServedCert), or has psk_hint (TLS-PSK; with a certificate as well when
// it serves one). That is the test Mosquitto 2.0 makes when it opens the
// listener (net__socket_listen). Half a pair, a certfile without a keyfile
// or the other way round, does not stop the broker: it serves that
// listener as plain MQTT, or as TLS-PSK only.
func (l *Listener) TLS() bool {
	_, cert := l.ServedCert()
	_, psk := l.Get("psk_hint")
	return cert || psk
}

// ServedCert is the certfile line of a listener that serves a
// certificate: one with both certfile and keyfile; Mosquitto loads
// neither file of half a pair.
func (l *Listener) ServedCert() (Directive, bool) {
	cert, ok := l.Get("certfile")
	if _, key := l.Get("keyfile"); !ok || !key {
		return Directive{}, false
	}
	return cert, true
}

// DialAddress is where a client on this machine reaches the listener, as
// HOST:PORT, and whether it speaks TLS there (the rule of TLS, which holds
// whatever ok is).
//
// The port and the address are those of the listener line, or, for the
// default listener, of the port line (DefaultPort without one) and the
// bind_address line. A listener on every address is reached on the
// loopback address: 127.0.0.1 for no address or 0.0.0.0, ::1 for :: or for
// no address with `socket_domain ipv6`. A named address is kept as it is.
// ok is false where a TCP client of MQTT cannot connect: a Unix socket
// (port 0, or an address that is a path), a port that is not one, a
// protocol other than mqtt (websockets), or a default listener Mosquitto
// does not open (see Opened). A bind_interface line is not looked at:
// such a listener shows as listening on every address.
func (l *Listener) DialAddress() (addr string, tls, ok bool) {
	tls = l.TLS()
	if !l.Opened() {
		return "", tls, false
	}
	port, host := strconv.Itoa(DefaultPort), ""
	if l.Decl.Line == 0 { // the default listener: port and bind_address lines
		if d, ok := l.Get("port"); ok {
			port = d.Word()
		}
		if d, ok := l.Get("bind_address"); ok {
			host = d.Value
		}
	} else {
		f := strings.Fields(l.Decl.Value)
		if len(f) == 0 {
			return "", tls, false
		}
		port = f[0]
		if len(f) > 1 && !strings.HasPrefix(f[1], "#") { // mosquitto ignores a "# comment" there
			host = f[1]
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 || strings.HasPrefix(host, "/") {
		return "", tls, false
	}
	if p, ok := l.Get("protocol"); ok && p.Word() != "mqtt" {
		return "", tls, false
	}
	switch host {
	case "":
		host = "127.0.0.1"
		if d, ok := l.Get("socket_domain"); ok && d.Word() == "ipv6" {
			host = "::1"
		}
	case "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), tls, true
}

// defaultOpeners are the options that make Mosquitto 2.0 open the default
// listener (the test at the end of config__parse_args, src/conf.c), each
// with the value that does not: "" where any value does. Others in the
// default section (tls_version, http_dir, max_topic_alias, ...) are read
// and then dropped with the listener they configure.
var defaultOpeners = map[string]string{
	"port": "", "bind_address": "", "bind_interface": "", "mount_point": "", "socket_domain": "",
	"cafile": "", "capath": "", "certfile": "", "keyfile": "", "ciphers": "", "ciphers_tls1.3": "",
	"crlfile": "", "dhparamfile": "", "psk_hint": "", "tls_engine": "", "tls_engine_kpass_sha1": "",
	"max_connections": "-1", "max_qos": "2", "protocol": "mqtt", "tls_keyform": "pem",
	"require_certificate": "false", "use_identity_as_username": "false",
	"use_subject_as_username": "false", "use_username_as_clientid": "false",
	// Security options, with per_listener_settings true. (A plugin line
	// opens it too; the model does not keep those.)
	"password_file": "", "psk_file": "", "allow_zero_length_clientid": "true",
}

// Opened reports whether Mosquitto opens the listener: a listener line
// always; the default listener only when one of its options is among
// those that open it, with a value other than the default (a
// `max_connections -1` line alone opens nothing).
func (l *Listener) Opened() bool {
	if l.Decl.Line != 0 {
		return true
	}
	for _, opts := range []map[string]Directive{l.Options, l.Security} {
		for name, d := range opts {
			if def, known := defaultOpeners[name]; known && !isDefault(d, def) {
				return true
			}
		}
	}
	return false
}

// isDefault reports whether d sets its option to def, a value from
// defaultOpeners ("" for none).
func isDefault(d Directive, def string) bool {
	switch def {
	case "":
		return false
	case "true", "false":
		b, _ := d.Bool()
		return strconv.FormatBool(b) == def
	}
	return d.Word() == def
}

// Endpoint is a place where a client on this machine reaches the broker.
type Endpoint struct {
	Addr     string    // HOST:PORT, as DialAddress gives it
	TLS      bool      // the listener speaks TLS (Listener.TLS)
	Listener *Listener // nil for the local-only listener
}

// Endpoints lists where a client on this machine reaches the broker, in
// the order of its listeners: the DialAddress of each that has one. A
// configuration where Mosquitto 2.0 opens no listener gets its local-only
// listener, LocalOnlyAddr (plain MQTT).
func (c *Config) Endpoints() []Endpoint {
	if !slices.ContainsFunc(c.Listeners, (*Listener).Opened) {
		return []Endpoint{{Addr: LocalOnlyAddr}}
	}
	var eps []Endpoint
	for _, l := range c.Listeners {
		if addr, tls, ok := l.DialAddress(); ok {
			eps = append(eps, Endpoint{Addr: addr, TLS: tls, Listener: l})
		}
	}
	return eps
}
