package acme

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Issuer obtains certificates for a Config and keeps them fresh. Both
// implementations are safe for concurrent use; calls are serialized, and a
// lock in the cache directory keeps two processes sharing it from ordering
// the same certificate twice.
type Issuer interface {
	// Obtain makes sure valid certificates for the configured names are in
	// the output directory. It contacts the CA only for a certificate that
	// is missing from the cache, no longer matches the configuration, or is
	// inside its renewal window; otherwise it only (re)writes output files
	// that differ from the cache. When the CA, a challenge or the account
	// fails, nothing in the output directory has changed.
	Obtain(ctx context.Context) (*Result, error)
	// RenewLoop runs until ctx is done: it calls Obtain when the earliest
	// certificate enters its renewal window, retries failures with
	// exponential backoff and jitter, and calls onRenew (if not nil) after
	// every Obtain that changed the output files. Old files stay in place
	// until new ones are complete.
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
	// Certs has one entry per certificate: one per domain for the ACME
	// issuer (autocert orders single-name certificates; the first domain's
	// files are in Out, each further one's in Out/NAME/), one for all names
	// for the local issuer.
	Certs []Cert
	// Written lists the output files that were (re)written; empty when the
	// output directory already held exactly these certificates.
	Written []string
	// Changed is len(Written) > 0: the broker must reload.
	Changed bool
}

// Cert describes one certificate in the output directory.
type Cert struct {
	Names     []string
	Files     Files
	Serial    string // hexadecimal
	NotBefore time.Time
	NotAfter  time.Time
	RenewAt   time.Time // when it enters its renewal window
	Issued    bool      // newly issued by this Obtain (not taken from the cache)
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

// item is one certificate on its way to the output directory.
type item struct {
	names  []string
	dir    string
	b      *bundle
	issued bool
}

// export renders every item first and writes only when all rendered, so a
// failure leaves the output directory as it was; then it writes the files
// that differ.
func export(cfg Config, items []item, log *slog.Logger) (*Result, error) {
	var files []outFile
	res := &Result{}
	for _, it := range items {
		fs, err := render(it.dir, it.b, cfg.Owner)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.names[0], err)
		}
		files = append(files, fs...)
		leaf := it.b.leaf()
		res.Certs = append(res.Certs, Cert{
			Names:     it.names,
			Files:     filesIn(it.dir),
			Serial:    leaf.SerialNumber.Text(16),
			NotBefore: leaf.NotBefore,
			NotAfter:  leaf.NotAfter,
			RenewAt:   renewAt(leaf, cfg.RenewBefore),
			Issued:    it.issued,
		})
	}
	written, err := writeFiles(files, cfg.Owner)
	res.Written = written
	res.Changed = len(written) > 0
	for _, p := range written {
		log.Info("wrote", "path", p)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}
