package probe

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/certinit/certinit/mosquittoconf"
)

// validTLSVersions are the tls_version values mosquitto 2.0 accepts; any
// other value stops the broker ("Unsupported tls_version").
var validTLSVersions = map[string]bool{"tlsv1.3": true, "tlsv1.2": true, "tlsv1.1": true}

// checkMosquitto checks every TLS file and option of a configuration.
func (ck *checkRun) checkMosquitto(path string) {
	cfg, probs, err := mosquittoconf.Load(path)
	if err != nil {
		ck.add(flagOrigin(path), "%v", err)
		return
	}
	ck.fileOrder = map[string]int{}
	for i, f := range cfg.Files {
		ck.fileOrder[f] = i
	}
	for _, p := range probs {
		ck.problems = append(ck.problems, Problem{File: p.File, Line: p.Line, Msg: p.Msg})
	}
	acct := ck.brokerAccount(cfg)
	for _, l := range cfg.Listeners {
		ck.listener(l, acct)
	}
	for _, b := range cfg.Bridges {
		ck.bridge(b, acct)
	}
}

// brokerAccount resolves the user the broker drops to. Without it on this
// machine, readability is not checked (the check may run outside the
// broker's container).
func (ck *checkRun) brokerAccount(cfg *mosquittoconf.Config) *account {
	name := cfg.UserName()
	acct, err := lookupAccount(name)
	if err != nil {
		ck.log.Warn("check: broker user not found here; not checking who can read the files", "user", name, "err", err)
		return nil
	}
	return acct
}

func dirOrigin(d mosquittoconf.Directive) origin {
	return origin{file: d.File, line: d.Line, option: d.Name}
}

// listener checks one listener's TLS settings and files. Whether it
// speaks TLS, and serves a certificate, is mosquittoconf's rule (TLS,
// ServedCert); half a pair is a problem because Mosquitto then serves no
// certificate, and no TLS at all without psk_hint.
func (ck *checkRun) listener(l *mosquittoconf.Listener, acct *account) {
	cert, hasCert := l.Get("certfile")
	key, hasKey := l.Get("keyfile")
	tlsOn := l.TLS()
	_, served := l.ServedCert()
	half := "mosquitto runs this listener WITHOUT TLS"
	if tlsOn {
		half = "mosquitto serves no certificate on this listener, only TLS-PSK"
	}
	switch {
	case hasCert && !hasKey:
		ck.add(dirOrigin(cert), "no keyfile on %s: %s", l.Name(), half)
	case hasKey && !hasCert:
		ck.add(dirOrigin(key), "no certfile on %s: %s", l.Name(), half)
	}
	if certs := ck.certAndKey(cert, hasCert, key, hasKey, acct); len(certs) > 0 {
		ck.servesTLS(dirOrigin(cert), certs)
	}
	ca, hasCA := l.Get("cafile")
	capath, hasCAPath := l.Get("capath")
	var trusted *loadedTrust
	if hasCA || hasCAPath {
		trusted = ck.trustSet(directiveTrust(ca, hasCA, capath, hasCAPath), acct)
	}
	// tls_version shapes any TLS; the others verify client certificates,
	// which takes a certificate of the listener's own.
	for _, opt := range []string{"cafile", "capath", "require_certificate", "tls_version", "crlfile"} {
		d, ok := l.Get(opt)
		switch {
		case !ok || served || tlsOn && opt == "tls_version":
		case tlsOn:
			ck.add(dirOrigin(d), "has no effect: %s speaks TLS-PSK only (client certificates need certfile and keyfile)", l.Name())
		default:
			ck.add(dirOrigin(d), "has no effect: %s is not a TLS listener (it needs certfile and keyfile, or psk_hint)", l.Name())
		}
	}
	if d, ok := l.Get("require_certificate"); ok && served {
		v, _ := d.Bool()
		switch {
		case v && !hasCA && !hasCAPath:
			ck.add(dirOrigin(d), "true without cafile or capath on %s: every client certificate is rejected (unknown ca)", l.Name())
		case v && trusted != nil:
			ck.acceptsClients(trusted, l.Name())
		}
	}
	if d, ok := l.Get("crlfile"); ok && served {
		ck.readable(dirOrigin(d), d.Value, acct)
	}
	if d, ok := l.Get("tls_version"); ok && !validTLSVersions[d.Value] {
		ck.add(dirOrigin(d), "%q is not one of tlsv1.3, tlsv1.2, tlsv1.1: mosquitto refuses to start", d.Value)
	}
}

// bridge checks one bridge's TLS settings and files.
func (ck *checkRun) bridge(b *mosquittoconf.Bridge, acct *account) {
	ca, hasCA := b.Get("bridge_cafile")
	capath, hasCAPath := b.Get("bridge_capath")
	cert, hasCert := b.Get("bridge_certfile")
	key, hasKey := b.Get("bridge_keyfile")
	tlsOn := hasCA || hasCAPath
	if tlsOn {
		ck.trustSet(directiveTrust(ca, hasCA, capath, hasCAPath), acct)
	}
	switch {
	case hasCert && !hasKey:
		ck.add(dirOrigin(cert), "no bridge_keyfile on %s: no client certificate is sent", b.Name())
	case hasKey && !hasCert:
		ck.add(dirOrigin(key), "no bridge_certfile on %s: no client certificate is sent", b.Name())
	}
	if certs := ck.certAndKey(cert, hasCert, key, hasKey, acct); len(certs) > 0 {
		ck.bridgeClient(dirOrigin(cert), certs, b.Name())
	}
	if !tlsOn {
		for _, opt := range []string{"bridge_certfile", "bridge_keyfile", "bridge_tls_version", "bridge_insecure"} {
			if d, ok := b.Get(opt); ok {
				ck.add(dirOrigin(d), "%s has no bridge_cafile or bridge_capath, so it connects WITHOUT TLS", b.Name())
				break
			}
		}
	}
	if d, ok := b.Get("bridge_insecure"); ok {
		if v, _ := d.Bool(); v {
			ck.add(dirOrigin(d), "true turns off the check of the remote broker's name on %s: anyone with a certificate from the same CA can pose as it; fix the name instead (see certinit probe)", b.Name())
		}
	}
	if d, ok := b.Get("bridge_tls_version"); ok && !validTLSVersions[d.Value] {
		ck.add(dirOrigin(d), "%q is not one of tlsv1.3, tlsv1.2, tlsv1.1", d.Value)
	}
	if tlsOn {
		ck.bridgePort(b)
	}
}

// certAndKey checks a certificate file and a key file named by a
// configuration (either may be absent) and that they match, and returns
// the certificates.
func (ck *checkRun) certAndKey(cert mosquittoconf.Directive, hasCert bool, key mosquittoconf.Directive, hasKey bool, acct *account) []*x509.Certificate {
	var certs []*x509.Certificate
	if hasCert {
		certs = ck.certificates(dirOrigin(cert), cert.Value, acct, true)
	}
	if hasKey {
		k := ck.key(dirOrigin(key), key.Value, acct)
		if hasCert {
			ck.pair(dirOrigin(key), certs, k, cert.Value)
		}
	}
	return certs
}

// directiveTrust is the trust set of a cafile and a capath directive
// (either may be absent).
func directiveTrust(ca mosquittoconf.Directive, hasCA bool, capath mosquittoconf.Directive, hasCAPath bool) trustFiles {
	var f trustFiles
	if hasCA {
		f.cafile, f.caOrigin, f.caName = ca.Value, dirOrigin(ca), ca.Name
	}
	if hasCAPath {
		f.capath, f.pathOrigin, f.pathName = capath.Value, dirOrigin(capath), capath.Name
	}
	return f
}

// bridgePort warns about a TLS bridge aimed at the plain MQTT port.
func (ck *checkRun) bridgePort(b *mosquittoconf.Bridge) {
	for _, opt := range []string{"address", "addresses"} {
		d, ok := b.Get(opt)
		if !ok {
			continue
		}
		for _, a := range strings.Fields(d.Value) {
			if strings.Count(a, ":") > 1 && !strings.Contains(a, "]") {
				continue // a bare IPv6 address: mosquitto itself cannot tell the port apart
			}
			if strings.HasSuffix(a, ":1883") || !strings.Contains(a, ":") {
				ck.add(dirOrigin(d), "%s uses TLS but %s is the plain MQTT port (1883 when none is given); TLS brokers usually listen on 8883", b.Name(), fmt.Sprintf("%q", a))
			}
		}
	}
}
