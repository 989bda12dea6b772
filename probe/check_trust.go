package probe

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/certinit/certinit/verify"
)

// This file holds check's verdicts on trust, decided as OpenSSL decides
// them for Mosquitto (package verify): a cafile and capath are one trust
// set, and a certificate in it that does not chain to a self-signed root
// there trusts nothing; a certificate chain passes when OpenSSL accepts
// it; and a certificate's key usages must allow what it is used for.

// trustFiles are a cafile and a capath that one TLS endpoint loads
// together (SSL_CTX_load_verify_locations): a listener's, a bridge's, or
// check's --cafile and --capath.
type trustFiles struct {
	cafile, capath       string
	caOrigin, pathOrigin origin
	caName, pathName     string // as the configuration or the command line names them
}

// describe names the trust set in a message.
func (f trustFiles) describe() string {
	var parts []string
	if f.cafile != "" {
		parts = append(parts, f.caName+" "+f.cafile)
	}
	if f.capath != "" {
		parts = append(parts, f.pathName+" "+f.capath)
	}
	return strings.Join(parts, " and ")
}

// names names the trust set without its paths, for a message about a
// file of it, which the message's FILE names already.
func (f trustFiles) names() string {
	var parts []string
	if f.cafile != "" {
		parts = append(parts, f.caName)
	}
	if f.capath != "" {
		parts = append(parts, f.pathName)
	}
	return strings.Join(parts, " and ")
}

// loadedTrust is a trust set check could load.
type loadedTrust struct {
	files       trustFiles
	v           *verify.Trust
	cafileCerts []*x509.Certificate // their dates are reported with the cafile
}

// trustSet checks a cafile and a capath as the endpoint loads them: each
// file readable and current (dates, hash links), each loadable by OpenSSL
// (PEM only), and every certificate in them chaining to a self-signed root
// there. Each is read once, and a problem is reported at the line (or
// flag) of the one it is in. It returns the set, or nil when it cannot be
// loaded (the problem is reported).
func (ck *checkRun) trustSet(f trustFiles, acct *account) *loadedTrust {
	var cafile, capath *verify.Trust
	ok := true
	if f.cafile != "" {
		cafile = ck.caFile(f.caOrigin, f.cafile, acct)
		ok = cafile != nil
	}
	if f.capath != "" {
		capath = ck.caPath(f.pathOrigin, f.capath, acct)
		ok = ok && capath != nil
	}
	if !ok {
		return nil
	}
	var caCerts []*x509.Certificate
	if cafile != nil {
		caCerts = cafile.Certificates()
	}
	v := verify.Join(cafile, capath)
	seen := map[string]bool{}
	for _, c := range v.Certificates() {
		if fp := fingerprint(c); !seen[fp] {
			seen[fp] = true
			_, err := verify.Chain([]*x509.Certificate{c}, v, verify.Options{NoCheckTime: true})
			var ve *verify.Error
			if errors.As(err, &ve) && ve.MissingIssuer() {
				o := f.pathOrigin
				if containsCert(caCerts, c) {
					o = f.caOrigin
				}
				ck.add(o, "%s", ck.noRoot(c, ve.Cert, f))
			}
		}
	}
	return &loadedTrust{files: f, v: v, cafileCerts: caCerts}
}

// caFile reads a cafile as OpenSSL loads it, and checks the dates of its
// certificates. It returns nil when the file cannot be loaded (reported).
func (ck *checkRun) caFile(o origin, path string, acct *account) *verify.Trust {
	if !ck.readable(o, path, acct) {
		return nil
	}
	t, err := verify.LoadTrust(path, "")
	if err != nil {
		ck.add(o, "%v", err)
		return nil
	}
	ck.dates(o, t.Certificates(), false)
	return t
}

// caPath reads a capath as OpenSSL's lookup does, and checks that the
// broker may read it and that its hash links are present and current. It
// returns nil when OpenSSL cannot look certificates up in it at all
// (reported).
func (ck *checkRun) caPath(o origin, dir string, acct *account) *verify.Trust {
	if !ck.readable(o, dir, acct) {
		return nil
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		ck.add(o, "%s: not a directory", dir)
		return nil
	}
	t, err := verify.LoadTrust("", dir)
	if err != nil {
		ck.add(o, "%v", err)
		return nil
	}
	for _, p := range hashDirProblems(dir, t.CapathFiles()) {
		ck.add(o, "%s: %s", dir, p)
	}
	return t
}

// noRoot says that c, in the trust set f, does not chain to a self-signed
// root there because the issuer of top is missing, and what to add.
func (ck *checkRun) noRoot(c, top *x509.Certificate, f trustFiles) string {
	var b strings.Builder
	isCA := verify.IsCA(c)
	what := "CA certificate"
	if !isCA {
		what = "certificate"
	}
	fmt.Fprintf(&b, "%s %q does not chain to a self-signed root in the trust (%s): the issuer %q", what, shortName(c), f.names(), dn(top.RawIssuer, top.Issuer))
	if top != c {
		fmt.Fprintf(&b, " of %q", shortName(top))
	}
	b.WriteString(" is missing")
	if urls := top.IssuingCertificateURL; len(urls) > 0 {
		fmt.Fprintf(&b, " (the certificate names it at %s)", strings.Join(urls, ", "))
	}
	b.WriteString("; OpenSSL (Mosquitto) trusts nothing through it")
	switch root := ck.mozilla.rootFor(top); {
	case !isCA:
		b.WriteString(", and a server or client certificate is not trusted for being in the trust: put the root CA that issued it there instead")
	case root != nil:
		fmt.Fprintf(&b, ": add the root %q, which the Mozilla root set certinit carries (certinit trust install --store dir:DIR installs it beside the intermediate, for a capath DIR)", shortName(root))
	default:
		b.WriteString(": add the root that issued it")
	}
	return b.String()
}

// chain verifies certs (leaf first, then intermediates) against t as
// OpenSSL does for a TLS server's and for a TLS client's certificate; it
// passes when either does, since check is not told which the certificate
// is. The dates of the certificate file and the cafile are reported on
// their own, and a trusted intermediate without its root by trustSet.
func (ck *checkRun) chain(o origin, certs []*x509.Certificate, t *loadedTrust) {
	var errs []*verify.Error
	for _, p := range []verify.Purpose{verify.ServerAuth, verify.ClientAuth} {
		_, err := verify.Chain(certs, t.v, verify.Options{Purpose: p, SecurityLevel: verify.MosquittoSecurityLevel, Time: ck.now})
		if err == nil {
			return
		}
		var ve *verify.Error
		if !errors.As(err, &ve) {
			ck.add(o, "%v", err)
			return
		}
		errs = append(errs, ve)
	}
	leaf, e := certs[0], errs[0]
	if e.Code == verify.InvalidPurpose {
		e = errs[1]
	}
	desc := t.files.describe()
	switch e.Code {
	case verify.InvalidPurpose:
		ck.add(o, "certificate %q is for neither TLS servers nor TLS clients (OpenSSL: unsuitable certificate purpose): as a server's, %q has %s; as a client's, %q has %s",
			shortName(leaf), shortName(errs[0].Cert), ekuNames(errs[0].Cert), shortName(errs[1].Cert), ekuNames(errs[1].Cert))
	case verify.CertHasExpired, verify.CertNotYetValid:
		if !containsCert(certs, e.Cert) && !containsCert(t.cafileCerts, e.Cert) {
			ck.add(o, "certificate %q does not verify against %s: %v", shortName(leaf), desc, e)
		}
	case verify.UnableToGetIssuerCert:
		// A trusted certificate without its root: trustSet said so.
	case verify.EEKeyTooSmall, verify.CAKeyTooSmall, verify.CAMDTooWeak:
		if !containsCert(certs, e.Cert) { // in the file, loads said so, with the fix
			ck.add(o, "certificate %q does not verify against %s: %v", shortName(leaf), desc, e)
		}
	case verify.UnableToGetIssuerCertLocally:
		top := e.Cert
		urls := ""
		if len(top.IssuingCertificateURL) > 0 {
			urls = " (the certificate names it at " + strings.Join(top.IssuingCertificateURL, ", ") + ")"
		}
		ck.add(o, "certificate %q does not chain to %s: the issuer %q of %q is missing%s", shortName(leaf), desc, dn(top.RawIssuer, top.Issuer), shortName(top), urls)
	default:
		ck.add(o, "certificate %q does not verify against %s: %v", shortName(leaf), desc, e)
	}
}

// forTLS reports a certificate that OpenSSL accepts neither for a TLS
// server nor for a TLS client, when there is no trust to verify its chain
// against.
func (ck *checkRun) forTLS(o origin, certs []*x509.Certificate) {
	if len(certs) == 0 {
		return
	}
	server, _ := verify.Allows(certs[0], verify.ServerAuth, false)
	client, _ := verify.Allows(certs[0], verify.ClientAuth, false)
	if !server && !client {
		ck.add(o, "certificate %q is for neither TLS servers nor TLS clients (%s, key usage %s): OpenSSL refuses it either way (unsuitable certificate purpose)",
			shortName(certs[0]), ekuNames(certs[0]), keyUsageNames(certs[0]))
	}
}

// servesTLS reports the certificates of a listener's certfile that are not
// for TLS servers. Mosquitto loads and serves them without a word; check
// is stricter, because every client refuses them.
func (ck *checkRun) servesTLS(o origin, certs []*x509.Certificate) {
	for i, c := range certs {
		if ok, err := verify.Allows(c, verify.ServerAuth, i > 0); err == nil && !ok {
			what := "certificate"
			if i > 0 {
				what = "CA certificate"
			}
			ck.add(o, "%s %q is not for TLS servers (%s): Mosquitto serves it without complaint, but clients refuse it (OpenSSL: unsuitable certificate purpose)",
				what, shortName(c), ekuNames(c))
		}
	}
}

// bridgeClient reports the certificates of a bridge's certfile that are
// not for TLS clients: the remote broker refuses them when it requires
// client certificates, which Mosquitto itself cannot see coming.
func (ck *checkRun) bridgeClient(o origin, certs []*x509.Certificate, bridge string) {
	for i, c := range certs {
		if why := notForClients(c, i > 0); why != "" {
			ck.add(o, "%s: the remote broker of %s refuses it when it requires client certificates %s. %s (for a bridge: remote_username and remote_password)", why, bridge, purposeError, clientAuthFix)
		}
	}
}

// acceptsClients reports the CA certificates of a listener's trust that
// are not for TLS clients: with require_certificate true the listener
// refuses every client certificate they issued.
func (ck *checkRun) acceptsClients(t *loadedTrust, listener string) {
	for _, c := range t.v.Certificates() {
		if !verify.IsCA(c) {
			continue // issues nothing; trustSet reports it when it is trusted for nothing
		}
		if ok, err := verify.Allows(c, verify.ClientAuth, true); err == nil && !ok {
			o := t.files.pathOrigin
			if containsCert(t.cafileCerts, c) {
				o = t.files.caOrigin
			}
			ck.add(o, "CA certificate %q is not for TLS clients (%s): %s refuses every client certificate issued under it (OpenSSL: unsuitable certificate purpose)",
				shortName(c), ekuNames(c), listener)
		}
	}
}
