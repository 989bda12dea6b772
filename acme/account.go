package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"golang.org/x/crypto/acme"
)

// accountKeyEntry is the cache entry of the ACME account key. It is the
// name autocert gave it, so that the account an earlier certinit made
// (through autocert) is the one used now: a CA's rate limits and an
// external account binding belong to the account.
const accountKeyEntry = "acme_account+key"

// accountKey loads the account key from the cache, creating it (ECDSA
// P-256) on first use.
func (is *ACMEIssuer) accountKey() (crypto.Signer, error) {
	data, err := is.cache.get(accountKeyEntry)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := is.cache.put(accountKeyEntry, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	blocks, err := pemfile.Parse(data)
	for _, b := range blocks {
		if b.Kind == pemfile.KindKey {
			return pemfile.ParseKey(b.DER)
		}
	}
	if err == nil {
		err = errors.New("no private key")
	}
	return nil, fmt.Errorf("ACME account key in %s: %w", is.cache.dir, err)
}

// newClient returns an ACME client of one order, registered: it creates
// the account at the first order and finds it again at every later one.
// (A client per order, as the CA may have been replaced behind its URL
// since the last one, which a test CA is.)
func (is *ACMEIssuer) newClient(ctx context.Context, rt *roundTransport) (*acme.Client, error) {
	key, err := is.accountKey()
	if err != nil {
		return nil, err
	}
	c := &acme.Client{
		Key:          key,
		DirectoryURL: is.cfg.DirectoryURL,
		UserAgent:    "certinit",
		RetryBackoff: retryBackoff,
		HTTPClient:   &http.Client{Transport: rt, Timeout: 2 * time.Minute},
	}
	acct := &acme.Account{ExternalAccountBinding: is.eab}
	if is.cfg.Email != "" {
		acct.Contact = []string{"mailto:" + is.cfg.Email}
	}
	if _, err := c.Register(ctx, acct, is.acceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, errAccount{err}
	}
	return c, nil
}

// errAccount marks an error of the account registration.
type errAccount struct{ error }

func (e errAccount) Unwrap() error { return e.error }

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
