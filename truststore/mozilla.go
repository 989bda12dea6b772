package truststore

import (
	"crypto/x509"
	"fmt"
	"log/slog"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// MozillaRoots returns the Mozilla (NSS) root set compiled into certinit
// from golang.org/x/crypto/x509roots/fallback/bundle, for images with no
// trust store at all (scratch), and for completing a chain that stops
// below its root (Install here, probe --save). Roots that NSS trusts only with extra
// constraints (a distrust-after date, say) are left out: a file-based store
// cannot express the constraint, and trusting them without it would trust
// more than Mozilla does.
func MozillaRoots(log *slog.Logger) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	skipped := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			skipped++
			continue
		}
		c, err := x509.ParseCertificate(r.Certificate)
		if err != nil {
			return nil, fmt.Errorf("embedded Mozilla roots: %w", err)
		}
		out = append(out, c)
	}
	log.Debug("embedded Mozilla roots", "count", len(out), "skipped_constrained", skipped)
	return out, nil
}
