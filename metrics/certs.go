package metrics

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
// file (or what the listener sends) stops being usable. A file is read
// through the guarded reader, so a FIFO or a huge file there is an error,
// not a hang.
func look(ctx context.Context, c Cert) (*x509.Certificate, error) {
	var certs []*x509.Certificate
	var err error
	if c.Role == RoleServed {
		if c.Served == nil {
			return nil, errors.New("no way to reach the listener")
		}
		ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		certs, err = c.Served(ctx)
		if err == nil && len(certs) == 0 {
			err = errors.New("the listener sent no certificate")
		}
	} else {
		certs, err = pemfile.ReadCertificates(c.Path)
	}
	if err != nil {
		return nil, err
	}
	first := certs[0]
	for _, x := range certs[1:] {
		if x.NotAfter.Before(first.NotAfter) {
			first = x
		}
	}
	return first, nil
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
)

func (c certCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- certSuccessDesc
	ch <- certNotAfterDesc
	ch <- certNotBeforeDesc
}

func (c certCollector) Collect(ch chan<- prometheus.Metric) {
	for _, mc := range c.m.certs {
		labels := []string{mc.Path, string(mc.Role)}
		cert, err := look(c.ctx, mc)
		if err != nil {
			// The scrape shows the failure; the reason goes to the debug
			// log, since every scrape would repeat it.
			c.m.log.Debug("metrics: certificate not read", "path", mc.Path, "role", mc.Role, "err", err)
			ch <- prometheus.MustNewConstMetric(certSuccessDesc, prometheus.GaugeValue, 0, labels...)
			continue
		}
		ch <- prometheus.MustNewConstMetric(certSuccessDesc, prometheus.GaugeValue, 1, labels...)
		ch <- prometheus.MustNewConstMetric(certNotAfterDesc, prometheus.GaugeValue, unixSeconds(cert.NotAfter), labels...)
		ch <- prometheus.MustNewConstMetric(certNotBeforeDesc, prometheus.GaugeValue, unixSeconds(cert.NotBefore), labels...)
	}
}
