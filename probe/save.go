package probe

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
)

// saveChain writes the issuing chain (intermediates and the root that
// anchors them; the certificate itself when it is self-signed) into dir,
// one PEM file each, and rehashes dir so that it works as a capath: the
// `openssl s_client -showcerts`, copy and `c_rehash` procedure in one step.
func saveChain(ctx context.Context, rep *Report, cr chainResult, dir string, log *slog.Logger) error {
	certs := cr.issuers
	if len(certs) == 0 && len(cr.chain) > 0 {
		certs = cr.chain[len(cr.chain)-1:]
	}
	if len(certs) == 0 {
		rep.Diagnosis = append(rep.Diagnosis, "Nothing saved: the server sent no certificate.")
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--save %w", err)
	}
	used := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range certs {
		fp := fingerprint(c)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		name := fileName(c, used)
		path := filepath.Join(dir, name)
		if err := atomicfile.WriteFile(path, pemfile.EncodeCerts(c), 0o644); err != nil {
			return fmt.Errorf("--save: %w", err)
		}
		rep.Saved = append(rep.Saved, path)
		log.Info("probe: saved certificate", "path", path, "subject", shortName(c))
	}
	if _, err := hashlink.Rehash(ctx, dir, hashlink.Options{Log: log}); err != nil {
		return fmt.Errorf("--save: %w", err) // Rehash names dir
	}
	if cr.unverified {
		rep.Diagnosis = append(rep.Diagnosis, fmt.Sprintf("Saved to %s what the server sent, which nothing here verified: compare the root's SHA-256 fingerprint with one from a source you trust before relying on it.", dir))
	}
	return nil
}

// fileName makes a file name from a certificate's common name: letters,
// digits, '-', '_' and '.', ending in .pem, unique among used.
func fileName(c *x509.Certificate, used map[string]bool) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, shortName(c))
	base = strings.Trim(base, "._")
	if base == "" || atomicfile.IsTemp(base) {
		base = "ca"
	}
	if len(base) > 64 {
		base = base[:64]
	}
	name := base + ".pem"
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s-%d.pem", base, i)
	}
	used[name] = true
	return name
}
