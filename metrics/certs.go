package metrics

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
)

// Role says what a certificate is to certinit: the role label.
type Role string

// The roles of the certificates certinit manages.
const (
	RoleCert   Role = "cert"   // the pair's certificate file: --cert, or the ACME output's fullchain.pem
	RoleChain  Role = "chain"  // --chain, the separate chain file
	RoleCopy   Role = "copy"   // the --copy-to copy of the certificate, which the broker loads
	RoleTrust  Role = "trust"  // a --trust CA file
	RoleServed Role = "served" // what the broker sends in a TLS handshake on its listener
)

// Cert is one certificate (file or listener) that certinit reports on.
type Cert struct {
	Role Role
	// Path is the file; for RoleServed, the certificate file the listener
	// is configured with, so that what is served and what is on disk
	// share the path label.
	Path string
	// Served, for RoleServed, returns the chain the listener sends, leaf
	// first (probe.ServedChain). Files are read from Path.
	Served func(ctx context.Context) ([]*x509.Certificate, error)
}

// key identifies c in maps (Served makes Cert incomparable).
func (c Cert) key() string { return string(c.Role) + "\x00" + c.Path }

// fetchTimeout bounds one look at a served certificate: a broker that
// does not answer must not hold a probe or the expiry warnings. A scrape
// also bounds all of its looks together (scrapeBudget).
const fetchTimeout = 5 * time.Second

// look returns the certificate of c that expires first: the moment the
// file (or what the listener sends) stops being usable.
func look(ctx context.Context, c Cert) (*x509.Certificate, error) {
	certs, err := read(ctx, c)
	if err != nil {
		return nil, err
	}
	return firstExpiring(certs), nil
}

// read returns the certificates of c, at least one. A file is read
// through the guarded reader, so a FIFO or a huge file there is an error,
// not a hang.
func read(ctx context.Context, c Cert) ([]*x509.Certificate, error) {
	if c.Role != RoleServed {
		return pemfile.ReadCertificates(c.Path)
	}
	if c.Served == nil {
		return nil, errors.New("no way to reach the listener")
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	certs, err := c.Served(ctx)
	if err == nil && len(certs) == 0 {
		err = errors.New("the listener sent no certificate")
	}
	return certs, err
}

// firstExpiring is the certificate of certs (not empty) whose validity
// ends first.
func firstExpiring(certs []*x509.Certificate) *x509.Certificate {
	first := certs[0]
	for _, x := range certs[1:] {
		if x.NotAfter.Before(first.NotAfter) {
			first = x
		}
	}
	return first
}

// certCollector reads every managed certificate for one scrape, all
// within the deadline of ctx (Monitor.serveMetrics makes one per scrape).
type certCollector struct {
	m   *Monitor
	ctx context.Context
}

var (
	certLabels      = []string{"path", "role"}
	certSuccessDesc = prometheus.NewDesc("certinit_certificate_read_success",
		"1 when the certificate could be read at this scrape (the file parsed, or the handshake with the listener succeeded), 0 otherwise.",
		certLabels, nil)
	certNotAfterDesc = prometheus.NewDesc("certinit_certificate_not_after_timestamp_seconds",
		"When the certificate that expires first in the file (or in what the listener sends) expires (Unix time).",
		certLabels, nil)
	certNotBeforeDesc = prometheus.NewDesc("certinit_certificate_not_before_timestamp_seconds",
		"When the validity of that same certificate began (Unix time).",
		certLabels, nil)

	// Each CA of a --trust file, told apart by its subject's OpenSSL hash
	// (what `openssl x509 -hash` prints, the name of its capath link) and
	// its SHA-256 fingerprint (two CAs of one subject, as in a root
	// rollover): bounded hex, never the subject's text.
	trustCALabels       = []string{"path", "subject_hash", "sha256"}
	trustCANotAfterDesc = prometheus.NewDesc("certinit_trust_ca_not_after_timestamp_seconds",
		"When each CA certificate of a --trust file expires (Unix time).",
		trustCALabels, nil)
	trustCANotBeforeDesc = prometheus.NewDesc("certinit_trust_ca_not_before_timestamp_seconds",
		"When the validity of each CA certificate of a --trust file began (Unix time).",
		trustCALabels, nil)
)

func (c certCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- certSuccessDesc
	ch <- certNotAfterDesc
	ch <- certNotBeforeDesc
	ch <- trustCANotAfterDesc
	ch <- trustCANotBeforeDesc
}

func (c certCollector) Collect(ch chan<- prometheus.Metric) {
	for _, mc := range c.m.certs {
		labels := []string{mc.Path, string(mc.Role)}
		certs, err := read(c.ctx, mc)
		if err != nil {
			// The scrape shows the failure; the reason goes to the debug
			// log, since every scrape would repeat it.
			c.m.log.Debug("metrics: certificate not read", "path", mc.Path, "role", mc.Role, "err", err)
			ch <- prometheus.MustNewConstMetric(certSuccessDesc, prometheus.GaugeValue, 0, labels...)
			continue
		}
		cert := firstExpiring(certs)
		ch <- prometheus.MustNewConstMetric(certSuccessDesc, prometheus.GaugeValue, 1, labels...)
		ch <- prometheus.MustNewConstMetric(certNotAfterDesc, prometheus.GaugeValue, unixSeconds(cert.NotAfter), labels...)
		ch <- prometheus.MustNewConstMetric(certNotBeforeDesc, prometheus.GaugeValue, unixSeconds(cert.NotBefore), labels...)
		if mc.Role == RoleTrust {
			collectTrustCAs(ch, mc.Path, certs)
		}
	}
}

// collectTrustCAs sends the dates of each certificate of the --trust file
// at path.
func collectTrustCAs(ch chan<- prometheus.Metric, path string, certs []*x509.Certificate) {
	for _, ca := range distinctCAs(certs) {
		labels := []string{path, ca.subjectHash, ca.sha256}
		ch <- prometheus.MustNewConstMetric(trustCANotAfterDesc, prometheus.GaugeValue, unixSeconds(ca.cert.NotAfter), labels...)
		ch <- prometheus.MustNewConstMetric(trustCANotBeforeDesc, prometheus.GaugeValue, unixSeconds(ca.cert.NotBefore), labels...)
	}
}

// trustCA is one CA of a --trust file, with what tells it apart from the
// others without any text of it: its subject's OpenSSL hash and its
// SHA-256 fingerprint, in hex.
type trustCA struct {
	cert                *x509.Certificate
	subjectHash, sha256 string
}

// distinctCAs returns the certificates of a --trust file, each once (a
// certificate listed twice is one CA). One whose subject OpenSSL cannot
// canonicalise is left out: OpenSSL never looks it up either.
func distinctCAs(certs []*x509.Certificate) []trustCA {
	var out []trustCA
	seen := map[[sha256.Size]byte]bool{}
	for _, x := range certs {
		sum := sha256.Sum256(x.Raw)
		if seen[sum] {
			continue
		}
		seen[sum] = true
		hash, err := hashlink.SubjectHash(x.Raw)
		if err != nil {
			continue
		}
		out = append(out, trustCA{cert: x, subjectHash: hashlink.FormatHash(hash), sha256: hex.EncodeToString(sum[:])})
	}
	return out
}
