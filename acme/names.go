package acme

import (
	"net"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/net/idna"
)

// Limits of a DNS name in its ASCII form (RFC 1035 section 2.3.4).
const (
	maxLabel = 63
	maxName  = 253
)

// nameRules say which names an issuer can certify.
type nameRules struct {
	local bool // the local CA: dotless names and wildcards without DNS-01 too
	dns01 bool // an ACME issuer with DNS-01: wildcards
}

// normalizeNames lower-cases names, converts them to their ASCII (IDNA)
// form, drops a trailing dot and duplicates, and refuses what no CA would
// certify: empty labels, labels over 63 characters, names over 253. An IP
// address is kept in its canonical form. Beyond that an ACME CA certifies
// only names with a dot, and a wildcard only through DNS-01 (RFC 8555
// section 7.1.3); the local issuer takes dotless names and wildcards.
func normalizeNames(names []string, r nameRules) ([]string, error) {
	if len(names) == 0 {
		return nil, configErrorf("", "{domain} is required: the names to certify")
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		n, err := normalizeName(n, r)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

func normalizeName(n string, r nameRules) (string, error) {
	n = strings.TrimSuffix(strings.TrimSpace(n), ".")
	if n == "" {
		return "", configErrorf("domain", "empty name")
	}
	if ip := net.ParseIP(n); ip != nil {
		return ip.String(), nil
	}
	wild := strings.HasPrefix(n, "*.")
	a, err := idna.Lookup.ToASCII(strings.TrimPrefix(n, "*."))
	if err != nil || strings.ContainsAny(a, ":/ *") {
		return "", configErrorf("domain", "%s: not a valid domain name", n)
	}
	if len(a) > maxName {
		return "", configErrorf("domain", "%s: longer than %d characters", n, maxName)
	}
	for _, l := range strings.Split(a, ".") {
		switch {
		case l == "":
			return "", configErrorf("domain", "%s: empty label", n)
		case len(l) > maxLabel:
			return "", configErrorf("domain", "%s: label %q is longer than %d characters", n, l, maxLabel)
		}
	}
	switch {
	case wild && !r.local && !r.dns01:
		return "", configErrorf("domain", "%s: a wildcard needs the DNS-01 challenge: give {dns-hook} or {dns-rfc2136-server}, or use the local issuer ({issuer} local)", n)
	case !strings.Contains(a, ".") && !r.local:
		return "", configErrorf("domain", "%s: a public CA certifies only names with a dot; use the local issuer ({issuer} local) for names like localhost", n)
	}
	if wild {
		a = "*." + a
	}
	return a, nil
}

// isIP reports whether a normalized name is an IP address.
func isIP(name string) bool { return net.ParseIP(name) != nil }

// identifiers are the ACME identifiers of normalized names: one "ip"
// identifier per IP address (RFC 8738), one "dns" identifier per name.
func identifiers(names []string) []acme.AuthzID {
	var ids []acme.AuthzID
	for _, n := range names {
		if isIP(n) {
			ids = append(ids, acme.IPIDs(n)...)
		} else {
			ids = append(ids, acme.DomainIDs(n)...)
		}
	}
	return ids
}
