package acme

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ACME Renewal Information (ARI, RFC 9773): the CA says in which window
// it wants a certificate renewed, and how soon to ask again (Retry-After).
// certinit renews at a random point of the window, asks again when the CA
// says, and so renews at once when the CA moves the window into the past
// (it does for a revoked certificate).

// How long to wait before asking the CA again: its Retry-After, clamped
// (RFC 9773 section 4.3); six hours without one; after a failure, an hour.
// Tests shorten them.
var (
	ariRetryMin     = time.Minute
	ariRetryMax     = 24 * time.Hour
	ariRetryDefault = 6 * time.Hour
	ariRetryError   = time.Hour
)

// ariState is what the CA last said about one certificate, kept in the
// cache beside it: a restart then neither asks before the CA's Retry-After
// nor draws another random time in the same window.
type ariState struct {
	Serial      string    `json:"serial"` // hexadecimal, of the certificate it is about
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	RenewAt     time.Time `json:"renew_at,omitzero"` // drawn in the window
	Explanation string    `json:"explanation_url,omitempty"`
	// None says why there is no window: the CA offers no renewal
	// information, or asking failed.
	None      string    `json:"none,omitempty"`
	NextFetch time.Time `json:"next_fetch"`
}

// ariEntry is the cache entry of the state of the certificate entry key.
func ariEntry(key string) string { return key + "+ari" }

// certID is the ARI identifier of a certificate (RFC 9773 section 4.1):
// the base64url key identifier of its authority key identifier, a dot,
// and the base64url content bytes of its DER serial number, leading zero
// byte included (big.Int.Bytes would drop it).
func certID(leaf *x509.Certificate) (string, error) {
	if len(leaf.AuthorityKeyId) == 0 {
		return "", errors.New("the certificate has no authority key identifier")
	}
	der, err := asn1.Marshal(leaf.SerialNumber)
	if err != nil {
		return "", err
	}
	var serial asn1.RawValue
	if _, err := asn1.Unmarshal(der, &serial); err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(leaf.AuthorityKeyId) + "." + enc.EncodeToString(serial.Bytes), nil
}

// ariFor returns what the CA says about leaf: the cached state while its
// Retry-After has not passed, a fresh answer otherwise (kept in the
// cache). It never fails: without an answer, the state says why (None).
func (is *ACMEIssuer) ariFor(ctx context.Context, key string, leaf *x509.Certificate, now time.Time) *ariState {
	serial := leaf.SerialNumber.Text(16)
	var old *ariState
	if data, err := is.cache.get(ariEntry(key)); err == nil {
		old = &ariState{}
		if json.Unmarshal(data, old) != nil || old.Serial != serial {
			old = nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		is.log.Warn("ignoring unreadable renewal information", "path", is.cache.dir, "err", err)
	}
	if old != nil && now.Before(old.NextFetch) {
		return old
	}
	st := is.fetchARI(ctx, leaf, now)
	if ctx.Err() != nil {
		return st // shutting down: nothing learned, nothing to keep
	}
	switch {
	case st.None != "" && old != nil && old.None == "":
		// Asking failed: the window the CA gave last still holds.
		old.NextFetch, old.None = st.NextFetch, ""
		st = old
	case st.None == "" && old != nil && old.Start.Equal(st.Start) && old.End.Equal(st.End):
		st.RenewAt = old.RenewAt // same window: keep the time drawn in it
	}
	if data, err := json.Marshal(st); err == nil {
		if err := is.cache.put(ariEntry(key), data); err != nil {
			is.log.Warn("could not keep the renewal information", "err", err)
		}
	}
	return st
}

// fetchARI asks the CA about leaf.
func (is *ACMEIssuer) fetchARI(ctx context.Context, leaf *x509.Certificate, now time.Time) *ariState {
	st := &ariState{Serial: leaf.SerialNumber.Text(16)}
	fail := func(err error) *ariState {
		st.None = "renewal information unavailable: " + err.Error()
		st.NextFetch = now.Add(ariRetryError)
		if ctx.Err() == nil {
			is.log.Warn("could not ask the CA when to renew", "directory", is.cfg.DirectoryURL, "err", err)
		}
		return st
	}
	base, err := is.renewalInfoURL(ctx)
	if err != nil {
		return fail(err)
	}
	if base == "" {
		st.None = "the CA offers no renewal information"
		st.NextFetch = now.Add(ariRetryMax)
		return st
	}
	id, err := certID(leaf)
	if err != nil {
		return fail(err)
	}
	var body struct {
		SuggestedWindow struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"suggestedWindow"`
		ExplanationURL string `json:"explanationURL"`
	}
	h, err := is.getJSON(ctx, strings.TrimSuffix(base, "/")+"/"+id, &body)
	if err != nil {
		return fail(err)
	}
	w := body.SuggestedWindow
	if w.Start.IsZero() || !w.Start.Before(w.End) {
		return fail(fmt.Errorf("renewal window %s to %s is not a window", w.Start, w.End))
	}
	st.Start, st.End, st.Explanation = w.Start, w.End, body.ExplanationURL
	st.RenewAt = drawRenewal(w.Start, w.End, now)
	st.NextFetch = now.Add(retryAfter(h.Get("Retry-After"), now))
	return st
}

// drawRenewal picks the renewal time in the window [start, end]: at
// random in what is left of it, so that a fleet does not renew at once;
// the window's start when it has passed, so that it is due now.
func drawRenewal(start, end, now time.Time) time.Time {
	if !now.Before(end) {
		return start
	}
	from := start
	if now.After(from) {
		from = now
	}
	return from.Add(time.Duration(rand.Int64N(int64(end.Sub(from)))))
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) and
// clamps it.
func retryAfter(v string, now time.Time) time.Duration {
	d := ariRetryDefault
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, ariRetryMin), ariRetryMax)
}

// renewalInfoURL is the directory's renewalInfo URL, "" when the CA has
// none. x/crypto/acme's Directory does not carry it, so the directory is
// read here; it is read once per issuer.
func (is *ACMEIssuer) renewalInfoURL(ctx context.Context) (string, error) {
	if is.ariURL != nil {
		return *is.ariURL, nil
	}
	var dir struct {
		RenewalInfo string `json:"renewalInfo"`
	}
	if _, err := is.getJSON(ctx, is.cfg.DirectoryURL, &dir); err != nil {
		return "", err
	}
	is.ariURL = &dir.RenewalInfo
	return dir.RenewalInfo, nil
}

// getJSON is an unauthenticated GET of a JSON document from the CA.
func (is *ACMEIssuer) getJSON(ctx context.Context, url string, v any) (http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "certinit")
	resp, err := (&http.Client{Transport: &roundTransport{base: is.base}}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return resp.Header, nil
}
