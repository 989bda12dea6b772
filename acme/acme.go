package acme

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEIssuer obtains certificates from an ACME CA through autocert, with
// HTTP-01 and TLS-ALPN-01 challenges answered by listeners it opens only
// while an order is in progress.
type ACMEIssuer struct {
	cfg   Config
	log   *slog.Logger
	cache fileCache
	base  *http.Transport
	eab   *acme.ExternalAccountBinding
	mu    sync.Mutex
}

func newACMEIssuer(cfg Config, log *slog.Logger) (*ACMEIssuer, error) {
	pool, err := loadCAFile(cfg.ACMECAFile)
	if err != nil {
		return nil, err
	}
	is := &ACMEIssuer{
		cfg: cfg,
		log: log,
		// One account and one set of certificates per directory: a
		// staging certificate must never be taken for a production one.
		cache: fileCache{dir: filepath.Join(cfg.CacheDir, "acme", directoryID(cfg.DirectoryURL))},
		base: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		},
	}
	if cfg.EABKID != "" {
		key, _ := decodeHMAC(cfg.EABHMAC) // checked by normalize
		is.eab = &acme.ExternalAccountBinding{KID: cfg.EABKID, Key: key}
	}
	return is, nil
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

// cacheKey is autocert's cache entry name for a certificate.
func (is *ACMEIssuer) cacheKey(name string) string {
	if is.cfg.KeyType == KeyRSA {
		return name + "+rsa"
	}
	return name
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
	items := make([]item, len(is.cfg.Domains))
	var due []string
	for i, name := range is.cfg.Domains {
		dir := is.cfg.Out
		if i > 0 {
			dir = filepath.Join(is.cfg.Out, name)
		}
		items[i] = item{names: []string{name}, dir: dir}
		b, why := is.cached(ctx, name, now)
		if b != nil {
			items[i].b = b
			continue
		}
		is.log.Info("ordering certificate", "domain", name, "reason", why, "directory", is.cfg.DirectoryURL)
		due = append(due, name)
	}
	if len(due) > 0 {
		issued, err := is.issue(ctx, due)
		if err != nil {
			return nil, err
		}
		for i := range items {
			if b, ok := issued[items[i].names[0]]; ok {
				items[i].b, items[i].issued = b, true
			}
		}
	}
	return export(is.cfg, items, is.log)
}

// cached returns the cached certificate for name when it is valid and
// outside its renewal window, or nil and the reason to order a new one.
func (is *ACMEIssuer) cached(ctx context.Context, name string, now time.Time) (*bundle, string) {
	data, err := is.cache.Get(ctx, is.cacheKey(name))
	if errors.Is(err, autocert.ErrCacheMiss) {
		return nil, "none cached"
	}
	if err != nil {
		return nil, err.Error()
	}
	b, err := parseBundle(data)
	if err != nil {
		is.log.Warn("ignoring unreadable cached certificate", "domain", name, "path", is.cache.dir, "err", err)
		return nil, "cached one unreadable"
	}
	if err := b.check([]string{name}, is.cfg.KeyType, now); err != nil {
		return nil, "cached one " + err.Error()
	}
	if at := renewAt(b.leaf(), is.cfg.RenewBefore); !now.Before(at) {
		return nil, "renewal window since " + at.UTC().Format(time.RFC3339)
	}
	return b, ""
}

// issue runs one issuance round: a fresh autocert.Manager whose cache hides
// the certificates being replaced, the challenge listeners, and one
// GetCertificate per name with a ClientHello that asks for the configured
// key type.
//
// Why a fresh Manager per round rather than one long-lived Manager and its
// own renewal timers: those timers run on the wall clock with fixed retry
// intervals and no callback, and a Manager with a certificate in memory
// never orders again on request. A round's Manager is retired afterwards:
// its client refuses every request and its cache every write, so the timer
// autocert leaves behind can never reach the CA.
func (is *ACMEIssuer) issue(ctx context.Context, names []string) (map[string]*bundle, error) {
	var hide []string
	for _, n := range names {
		hide = append(hide, is.cacheKey(n))
	}
	cache := newIssueCache(is.cache, hide)
	client := &acme.Client{
		DirectoryURL: is.cfg.DirectoryURL,
		UserAgent:    "certinit",
		RetryBackoff: retryBackoff,
	}
	m := &autocert.Manager{
		Prompt:     is.acceptTOS,
		Cache:      cache,
		HostPolicy: hostPolicy(names),
		// Only for the leftover timer: it wakes at expiry, finds the
		// renewed certificate in the cache and sleeps again.
		RenewBefore:            time.Microsecond,
		Client:                 client,
		Email:                  is.cfg.Email,
		ExternalAccountBinding: is.eab,
	}
	srv, offer, err := startChallengeServers(is.cfg, m, is.log)
	if err != nil {
		return nil, err
	}
	obs := newObserver(ctx, is.base, offer)
	client.HTTPClient = &http.Client{Transport: obs, Timeout: 2 * time.Minute}
	defer func() { obs.retire(); cache.retire() }()
	defer srv.close()

	out := map[string]*bundle{}
	for _, name := range names {
		tc, err := m.GetCertificate(helloFor(name, is.cfg.KeyType))
		if err != nil {
			return nil, is.classify(ctx, name, err, obs)
		}
		b, err := bundleOf(tc)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate from the CA: %w", name, err)
		}
		if err := b.check([]string{name}, is.cfg.KeyType, nowFunc()); err != nil {
			return nil, fmt.Errorf("%s: certificate from the CA: %w", name, err)
		}
		is.log.Info("certificate issued", "domain", name, "serial", b.leaf().SerialNumber.Text(16),
			"not_after", b.leaf().NotAfter.UTC().Format(time.RFC3339))
		out[name] = b
	}
	return out, nil
}

func (is *ACMEIssuer) acceptTOS(tosURL string) bool {
	is.log.Info("agreeing to the CA's terms of service", "url", tosURL)
	return true
}

// retryBackoff replaces the ACME client's default, which retries for as
// long as the context lasts: a few quick retries for server errors and bad
// nonces, none for a rate limit, whose error must reach the user.
func retryBackoff(n int, _ *http.Request, res *http.Response) time.Duration {
	if res != nil && res.StatusCode == http.StatusTooManyRequests || n > 4 {
		return 0
	}
	return time.Duration(n) * requestRetryUnit
}

// requestRetryUnit is the step of retryBackoff; tests shorten it.
var requestRetryUnit = 500 * time.Millisecond

// hostPolicy admits exactly the configured names. autocert calls it with
// the TLS server name and, in its HTTP handler, with the request's Host
// header, which carries a port when the CA validates on a non-default one.
func hostPolicy(names []string) autocert.HostPolicy {
	ok := map[string]bool{}
	for _, n := range names {
		ok[n] = true
	}
	return func(_ context.Context, host string) error {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.ToLower(host), ".")
		if !ok[host] {
			return fmt.Errorf("%s is not a name this certinit certifies", host)
		}
		return nil
	}
}

// helloFor is the ClientHello that makes autocert order a certificate for
// name: autocert picks ECDSA when the hello offers an ECDSA cipher suite
// and RSA otherwise.
func helloFor(name string, kt KeyType) *tls.ClientHelloInfo {
	suite := tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	if kt == KeyRSA {
		suite = tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
	}
	return &tls.ClientHelloInfo{ServerName: name, CipherSuites: []uint16{suite}}
}

func bundleOf(tc *tls.Certificate) (*bundle, error) {
	key, ok := tc.PrivateKey.(crypto.Signer)
	if !ok || len(tc.Certificate) == 0 {
		return nil, errors.New("no usable key or certificate")
	}
	b := &bundle{key: key}
	for _, der := range tc.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		b.chain = append(b.chain, c)
	}
	return b, nil
}
