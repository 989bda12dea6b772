package acme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// ACMEIssuer obtains one certificate for all configured names from an ACME
// CA, through golang.org/x/crypto/acme's order flow: HTTP-01 and
// TLS-ALPN-01 challenges answered by listeners it opens only while an
// order runs, DNS-01 through a hook or RFC 2136 updates.
type ACMEIssuer struct {
	cfg   Config
	log   *slog.Logger
	cache fileCache
	base  *http.Transport
	eab   *acme.ExternalAccountBinding
	dns   *dnsSolver // nil without DNS-01

	mu       sync.Mutex
	force    bool    // Config.ForceRenewal, until an order succeeded
	ariURL   *string // the directory's renewalInfo URL, once read
	oldNoted bool    // the old per-name layout was reported
}

func newACMEIssuer(cfg Config, log *slog.Logger) (*ACMEIssuer, error) {
	pool, err := loadCAFile(cfg.ACMECAFile)
	if err != nil {
		return nil, err
	}
	is := &ACMEIssuer{
		cfg: cfg,
		log: log,
		// One account and one certificate per directory: a staging
		// certificate must never be taken for a production one.
		cache: fileCache{dir: filepath.Join(cfg.CacheDir, "acme", directoryID(cfg.DirectoryURL))},
		base:  newCATransport(pool),
		force: cfg.ForceRenewal,
	}
	if cfg.EABKID != "" {
		key, _ := decodeHMAC(cfg.EABHMAC) // checked by normalize
		is.eab = &acme.ExternalAccountBinding{KID: cfg.EABKID, Key: key}
	}
	if is.dns, err = newDNSSolver(cfg, log); err != nil {
		return nil, err
	}
	return is, nil
}

// newDNSSolver sets up DNS-01 as configured, or returns nil.
func newDNSSolver(cfg Config, log *slog.Logger) (*dnsSolver, error) {
	if !cfg.dns01() {
		return nil, nil
	}
	view, err := newDNSView(cfg.DNSResolver)
	if err != nil {
		return nil, configErrorf("", "%v; name a DNS server with {dns-resolver}", err)
	}
	s := &dnsSolver{view: view, timeout: cfg.DNSTimeout, log: log}
	if cfg.DNSHook != "" {
		s.pub = &hookPublisher{hook: cfg.DNSHook, cleanupHook: cfg.DNSCleanupHook, timeout: cfg.DNSTimeout, reap: cfg.ReapLock, log: log}
		return s, nil
	}
	key, err := readTSIGKey(cfg.RFC2136TSIG)
	if err != nil {
		ce := configErrorf("dns-rfc2136-tsig", "%v", err)
		ce.Err = err
		return nil, ce
	}
	s.pub = &rfc2136Publisher{server: cfg.RFC2136Server, key: key, view: view, timeout: cfg.DNSTimeout}
	return s, nil
}

// unsafeChars are the runs of characters a cache directory name does not
// keep.
var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// directoryID names a directory URL's cache subdirectory
// ("acme-staging-v02.api.letsencrypt.org_directory").
func directoryID(dir string) string {
	u, err := url.Parse(dir)
	if err != nil {
		return unsafeChars.ReplaceAllString(dir, "_")
	}
	return strings.Trim(unsafeChars.ReplaceAllString(u.Host+u.Path, "_"), "_.")
}

// certEntry is the cache entry of the certificate for the configured
// names and key type. For one name it is the name (with "+rsa" for RSA),
// autocert's entry for it, so a certificate an earlier certinit cached is
// used; several names add a digest of the sorted list.
func (is *ACMEIssuer) certEntry() string {
	names := slices.Sorted(slices.Values(is.cfg.Domains))
	key := strings.ReplaceAll(names[0], "*", "_")
	if len(names) > 1 {
		sum := sha256.Sum256([]byte(strings.Join(names, ",")))
		key += "+" + hex.EncodeToString(sum[:4])
	}
	if is.cfg.KeyType == KeyRSA {
		key += "+rsa"
	}
	return key
}

// Obtain implements Issuer.
func (is *ACMEIssuer) Obtain(ctx context.Context) (*Result, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	unlock, err := lockDir(ctx, is.cfg.CacheDir, is.log)
	if err != nil {
		return nil, err
	}
	defer unlock()

	now := nowFunc()
	key := is.certEntry()
	b, why := is.cached(now)
	rule := ruleNone
	var next renewal
	switch {
	case b != nil && is.force:
		b, why, rule = nil, "renewal forced", ruleForced
	case b != nil:
		if next = is.schedule(ctx, key, b.leaf(), now); !now.Before(next.at) {
			b, why, rule = nil, "due: "+next.why, next.rule
		}
	}
	issued := b == nil
	if issued {
		is.log.Info("ordering certificate", "domain", strings.Join(is.cfg.Domains, ","), "rule", rule, "reason", why,
			"directory", is.cfg.DirectoryURL, "profile", is.cfg.Profile)
		if b, err = is.order(ctx); err != nil {
			return nil, err
		}
		is.force = false
		next = is.schedule(ctx, key, b.leaf(), nowFunc())
	}
	is.noteOldLayout()
	return export(is.cfg, b, issued, next, is.log)
}

// cached returns the cached certificate when it is valid and matches the
// configuration, or nil and the reason to order a new one.
func (is *ACMEIssuer) cached(now time.Time) (*bundle, string) {
	data, err := is.cache.get(is.certEntry())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "none cached"
	}
	if err != nil {
		return nil, err.Error()
	}
	b, err := parseBundle(data)
	if err != nil {
		is.log.Warn("ignoring unreadable cached certificate", "path", is.cache.dir, "err", err)
		return nil, "cached one unreadable"
	}
	if err := b.check(is.cfg.Domains, is.cfg.KeyType, now); err != nil {
		return nil, "cached one " + err.Error()
	}
	return b, ""
}

// noteOldLayout warns, once, about the per-name directories that certinit
// wrote before it ordered one certificate for all names (OUT/NAME/ for
// every name after the first): nothing renews them any more.
func (is *ACMEIssuer) noteOldLayout() {
	if is.oldNoted {
		return
	}
	is.oldNoted = true
	for _, n := range is.cfg.Domains[1:] {
		dir := filepath.Join(is.cfg.Out, n)
		if _, err := os.Lstat(filepath.Join(dir, CertFile)); err == nil {
			is.log.Warn("a certificate from an older certinit (one per name) is no longer renewed; the output directory's files now cover every name: point the broker there and remove it",
				"path", dir)
		}
	}
}
