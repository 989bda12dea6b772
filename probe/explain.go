package probe

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/certinit/certinit/embed"
	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/safetext"
	"github.com/certinit/certinit/verify"
)

// This file turns certificate findings into sentences a person can act on.
// Each explain function returns whole sentences, most important first.

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return embed.Fingerprint(sum[:])
}

func explainHostname(leaf *x509.Certificate, name string) []string {
	var names []string
	for _, d := range leaf.DNSNames {
		names = append(names, "DNS:"+safetext.Quote(d))
	}
	for _, ip := range leaf.IPAddresses {
		names = append(names, "IP:"+ip.String())
	}
	san := "DNS:" + name
	if net.ParseIP(name) != nil {
		san = "IP:" + name
	}
	var out []string
	switch {
	case len(names) == 0 && leaf.Subject.CommonName == name:
		out = append(out, fmt.Sprintf("The certificate has no subjectAltName, only the common name %q. Current clients (Go, Python, browsers) ignore the common name; OpenSSL-based ones such as mosquitto_pub still accept it.", name),
			"Reissue the certificate with subjectAltName "+san+".")
	case len(names) == 0:
		out = append(out, fmt.Sprintf("The certificate carries no subjectAltName, and its common name %q is not %q either: reissue it with subjectAltName %s.", leaf.Subject.CommonName, name, san))
	default:
		out = append(out, fmt.Sprintf("The certificate is valid for %s, not for %q.", strings.Join(names, ", "), name))
		if net.ParseIP(name) != nil && len(leaf.IPAddresses) == 0 {
			out = append(out, "You connected by IP address and the certificate names no IP address: connect by one of its names (or pass it with --servername), or reissue the certificate with subjectAltName "+san+".")
		} else {
			out = append(out, "Connect with one of those names (the probe: --servername NAME), or reissue the certificate with subjectAltName "+san+".")
		}
	}
	out = append(out, "Turning off the name check (a bridge's bridge_insecure true, mosquitto_pub --insecure) is not the fix: it lets anyone with a certificate from the same CA pose as this broker.")
	return out
}

// explainTime describes a certificate outside its validity period. where
// names the trust store the certificate came from ("" for one the server
// sent).
func explainTime(c *x509.Certificate, isLeaf bool, now time.Time, where string) []string {
	what := fmt.Sprintf("The intermediate certificate %q that the server sends", shortName(c))
	switch {
	case isLeaf:
		what = fmt.Sprintf("The server's certificate %q", shortName(c))
	case where != "":
		what = fmt.Sprintf("The CA certificate %q in %s", shortName(c), where)
	}
	clock := fmt.Sprintf("This machine's clock says %s.", now.UTC().Format(time.RFC3339))
	if now.Before(c.NotBefore) {
		return []string{
			fmt.Sprintf("%s is valid only from %s, %s from now.", what, c.NotBefore.UTC().Format(time.RFC3339), humanDuration(c.NotBefore.Sub(now))),
			clock + " Either the certificate was issued with a start date in the future, or a clock is wrong: check NTP on this machine and on the machine that issued it.",
		}
	}
	fix := "Renew it; if a renewed file already exists, the broker has not loaded it yet (mosquitto reads certfile at start; restart it or let certinit run reload it)."
	switch {
	case where != "":
		fix = "Replace it with the CA's current certificate (for a cross-signed root, remove the expired copy)."
	case !isLeaf:
		fix = "The server's chain file is outdated: install the chain the CA issues now (certbot renews fullchain.pem with each certificate)."
	}
	return []string{
		fmt.Sprintf("%s expired at %s, %s ago.", what, c.NotAfter.UTC().Format(time.RFC3339), humanDuration(now.Sub(c.NotAfter))),
		clock + " " + fix,
	}
}

func explainSelfSigned(leaf *x509.Certificate, t *trust) []string {
	return []string{
		fmt.Sprintf("The server's certificate %q is self-signed (its issuer is itself) and is not in %s.", shortName(leaf), t.describe()),
		"A client trusts it only if it has exactly this certificate as its CA (SHA-256 " + fingerprint(leaf) + "): save it with --save DIR and use --capath DIR (or --cafile with the saved file).",
		"Better: issue the broker's certificate from a CA (certinit acme obtain, --issuer local for a private one) and give clients that CA.",
	}
}

func explainUntrustedRoot(root *x509.Certificate, t *trust) []string {
	return []string{
		fmt.Sprintf("The server's chain ends at the root %q (SHA-256 %s), which is not in %s.", shortName(root), fingerprint(root), t.describe()),
		"If you trust this root, add it to the client's CA file (or save the chain with --save DIR and use --capath DIR). Servers need not send the root; clients must already have it.",
	}
}

func explainUnknownIssuer(peer []*x509.Certificate, top *x509.Certificate, t *trust) []string {
	out := []string{fmt.Sprintf("The issuer %q of %q is not in %s.", dn(top.RawIssuer, top.Issuer), shortName(top), t.describe())}
	if len(t.cafileCerts) > 0 && len(t.cafileCerts) <= 5 {
		var names []string
		for _, c := range t.cafileCerts {
			names = append(names, fmt.Sprintf("%q", shortName(c)))
		}
		out = append(out, fmt.Sprintf("%s holds %s.", t.cafile, strings.Join(names, ", ")))
	}
	if len(peer) == 1 && !verify.IsCA(top) {
		out = append(out, fmt.Sprintf("The server sent only its own certificate. If %q is an intermediate CA, the server must send it too: point certfile at fullchain.pem (leaf, then intermediates), not cert.pem.", shortName(&x509.Certificate{Subject: top.Issuer})))
	}
	return out
}

// explainAnchorNotRoot explains a chain that reaches a trusted
// certificate, top, that is not self-signed (OpenSSL's "unable to get
// issuer certificate"): the trust holds an intermediate without its root.
func (c *checker) explainAnchorNotRoot(top *x509.Certificate) []string {
	where := c.trust.where(top)
	issuer := dn(top.RawIssuer, top.Issuer)
	out := []string{
		fmt.Sprintf("The chain reaches %q in %s, which is not a self-signed root, and its issuer %q is missing.", shortName(top), where, issuer),
		"OpenSSL (as Mosquitto, its bridges and mosquitto_pub run it) trusts a chain only when it ends at a self-signed certificate it trusts: an intermediate CA alone (certbot's chain.pem) trusts nothing. Add the root that issued it.",
	}
	switch root := c.mozilla.rootFor(top); {
	case root != nil:
		out = append(out, fmt.Sprintf("That root is %q (SHA-256 %s), in the Mozilla root set certinit carries: certinit trust install --store dir:DIR installs it beside the intermediate (then use --capath DIR), or save the whole chain with --save DIR.",
			shortName(root), fingerprint(root)))
	case len(top.IssuingCertificateURL) > 0:
		out = append(out, fmt.Sprintf("The certificate names its issuer at %s.", strings.Join(top.IssuingCertificateURL, ", ")))
	}
	return out
}

func explainIncomplete(peer []*x509.Certificate, top *x509.Certificate, urls []string, fetched []*x509.Certificate,
	fetchErr error, completed []*x509.Certificate, verr error, fetching bool, t *trust) []string {
	missing := shortName(&x509.Certificate{Subject: top.Issuer})
	first := fmt.Sprintf("The server's chain stops at %q; its issuer %q is missing.", shortName(top), missing)
	if len(peer) == 1 {
		first = fmt.Sprintf("The server sent only its own certificate, not the intermediate %q that issued it.", missing)
	}
	out := []string{first,
		"Configure the server with the full chain: certfile must hold the certificate followed by its intermediates (certbot's fullchain.pem, not cert.pem)."}
	switch {
	case completed != nil:
		out = append(out, fmt.Sprintf("The missing certificate is at %s; with it the chain verifies to %q in %s.",
			strings.Join(urls, ", "), shortName(completed[len(completed)-1]), t.describe()))
	case len(fetched) > 0:
		out = append(out, fmt.Sprintf("The certificate at %s (%q) does not lead to a trusted root either: %v.", strings.Join(urls, ", "), shortName(fetched[0]), verr))
	case !fetching:
		out = append(out, fmt.Sprintf("The certificate names its issuer's URL: %s (not fetched: --offline).", strings.Join(urls, ", ")))
	default:
		out = append(out, fmt.Sprintf("The certificate names its issuer's URL, %s, but fetching it failed: %v.", strings.Join(urls, ", "), fetchErr))
	}
	return out
}

// capathHints explains why --capath did not find the certificate named
// name: it is there without a current hash link, in DER, or with only an
// old-style link.
func (c *checker) capathHints(name []byte) []string {
	var out []string
	hash := "?"
	if h, err := hashlink.NameHash(name); err == nil {
		hash = hashlink.FormatHash(h)
	}
	for _, f := range c.trust.scanCapath(name) {
		base := filepath.Base(f.path)
		switch {
		case f.count > 1:
			out = append(out, fmt.Sprintf("%s holds %q among %d certificates. OpenSSL's capath lookup reads one certificate per hash link, and rehash (openssl's or certinit's) links only files that hold one: %s.",
				f.path, shortName(f.cert), f.count, bundleFix(c.trust.capath, f.path)))
		case !f.pem:
			out = append(out, fmt.Sprintf("%s holds %q in DER form; OpenSSL reads only PEM files through a capath: convert it (openssl x509 -inform der -in %s -out %s.pem) and run certinit rehash %s.",
				f.path, shortName(f.cert), base, strings.TrimSuffix(base, filepath.Ext(base)), c.trust.capath))
		case !f.linked && f.oldLnk:
			out = append(out, fmt.Sprintf("%s holds %q but has only an old-style (MD5) hash link; OpenSSL 1.0 and later look for %s.0: run certinit rehash %s (without --old).",
				f.path, shortName(f.cert), hash, c.trust.capath))
		case !f.linked:
			out = append(out, fmt.Sprintf("%s holds %q, but there is no hash link %s.0 for it, so OpenSSL never finds it: run certinit rehash %s (or openssl rehash).",
				f.path, shortName(f.cert), hash, c.trust.capath))
		}
	}
	return out
}

// nameClash explains a trusted certificate that has the issuer's name but
// did not sign: usually a CA that was re-created with a new key.
func (c *checker) nameClash(top *x509.Certificate) []string {
	check := func(x *x509.Certificate, where string) string {
		if !bytes.Equal(x.RawSubject, top.RawIssuer) || top.CheckSignatureFrom(x) == nil {
			return ""
		}
		return fmt.Sprintf("%s has a certificate named %q (SHA-256 %s), but it did not sign %q: it has a different key. The CA was probably re-created; give the client the CA that issued the server's certificate.",
			where, shortName(x), fingerprint(x), shortName(top))
	}
	var out []string
	for _, x := range c.trust.cafileCerts {
		if s := check(x, c.trust.cafile); s != "" {
			out = append(out, s)
		}
	}
	for _, f := range c.trust.scanCapath(top.RawIssuer) {
		if s := check(f.cert, f.path); s != "" && f.linked {
			out = append(out, s)
		}
	}
	return out
}

// humanDuration says "3 days", "5 hours" or "12 minutes".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	round := func(unit time.Duration) int64 { return int64((d + unit/2) / unit) }
	switch {
	case d >= 47*time.Hour+30*time.Minute:
		return plural(round(24*time.Hour), "day")
	case d >= 119*time.Minute+30*time.Second:
		return plural(round(time.Hour), "hour")
	case d >= 119*time.Second+500*time.Millisecond:
		return plural(round(time.Minute), "minute")
	}
	return plural(round(time.Second), "second")
}
