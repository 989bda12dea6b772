package acme

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Issuer obtains a certificate for a Config and keeps it fresh. Both
// implementations are safe for concurrent use; calls are serialized, and a
// lock in the cache directory keeps two processes sharing it from ordering
// the same certificate twice.
type Issuer interface {
	// Obtain makes sure a valid certificate for the configured names is in
	// the output directory. It orders one only when the cache has none
	// that matches the configuration, when the cached one is due for
	// renewal, or the first time with Config.ForceRenewal; otherwise it
	// only (re)writes output files that differ from the cache (and may ask
	// the CA's renewal information, when the CA said to ask again). When
	// the CA, a challenge or the account fails, nothing in the output
	// directory has changed.
	Obtain(ctx context.Context) (*Result, error)
	// RenewLoop runs until ctx is done: it calls Obtain when the
	// certificate is due or the CA's renewal information is to be asked
	// again, retries failures with exponential backoff and jitter, and
	// calls onRenew (if not nil) after every Obtain that changed the
	// output files. Old files stay in place until new ones are complete.
	RenewLoop(ctx context.Context, onRenew func(*Result))
}

var (
	_ Issuer = (*ACMEIssuer)(nil)
	_ Issuer = (*LocalCA)(nil)
)

// nowFunc is the clock every renewal decision and every local certificate
// uses; tests move it.
var nowFunc = time.Now

// Result says what one Obtain did.
type Result struct {
	// Certs has the one certificate for all names (a slice for the
	// callers that list certificates).
	Certs []Cert
	// Written lists the output files that were (re)written; empty when the
	// output directory already held exactly this certificate.
	Written []string
	// Changed is len(Written) > 0: the broker must reload.
	Changed bool

	ask time.Time // when RenewLoop must ask the CA again (ARI); zero: no need
}

// Cert describes one certificate in the output directory.
type Cert struct {
	Names     []string
	Files     Files
	Serial    string // hexadecimal
	NotBefore time.Time
	NotAfter  time.Time
	RenewAt   time.Time // when it is due for renewal
	RenewWhy  string    // why then: the CA's window (ARI), a share of the lifetime, renew-before
	Issued    bool      // newly issued by this Obtain (not taken from the cache)

	random bool // RenewAt was drawn in the CA's window
}

// NextRenewal is the earliest RenewAt of the result's certificates.
func (r *Result) NextRenewal() time.Time {
	var t time.Time
	for _, c := range r.Certs {
		if t.IsZero() || c.RenewAt.Before(t) {
			t = c.RenewAt
		}
	}
	return t
}

// New checks cfg, applies its defaults and returns the issuer it names.
// Configuration mistakes wrap ErrConfig. A nil log discards messages.
func New(cfg Config, log *slog.Logger) (Issuer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if cfg.Issuer == IssuerLocal {
		return newLocalCA(cfg, log), nil
	}
	return newACMEIssuer(cfg, log)
}

// export writes the certificate's files to the output directory: it
// renders them all first and writes only when all rendered, so a failure
// leaves the output directory as it was; then it writes the files that
// differ, and logs when the next renewal is due and why.
func export(cfg Config, b *bundle, issued bool, next renewal, log *slog.Logger) (*Result, error) {
	files, err := render(cfg.Out, b, cfg.Owner)
	if err != nil {
		return nil, err
	}
	leaf := b.leaf()
	c := Cert{
		Names:     cfg.Domains,
		Files:     filesIn(cfg.Out),
		Serial:    leaf.SerialNumber.Text(16),
		NotBefore: leaf.NotBefore,
		NotAfter:  leaf.NotAfter,
		RenewAt:   next.at,
		RenewWhy:  next.why,
		Issued:    issued,
		random:    next.random,
	}
	res := &Result{Certs: []Cert{c}, ask: next.ask}
	written, err := writeFiles(files, cfg.Owner)
	res.Written = written
	res.Changed = len(written) > 0
	for _, p := range written {
		log.Info("wrote", "path", p)
	}
	if err != nil {
		return nil, err
	}
	log.Info("next renewal", "domain", strings.Join(c.Names, ","), "serial", c.Serial,
		"renew_at", c.RenewAt.UTC().Format(time.RFC3339), "rule", next.rule, "reason", c.RenewWhy)
	return res, nil
}
