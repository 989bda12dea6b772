package acme

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// observer is the http.RoundTripper under the ACME client of one issuance
// round. autocert hides much of what happens on the wire (it retries the
// next challenge type and finally says only "no viable challenge type
// found"), so the observer watches the exchanges to give the user an error
// they can act on, and steers autocert where it has no option:
//
//   - it records each challenge the CA marks invalid, with the CA's words;
//   - it notes a refused newAccount request (an account problem);
//   - it removes from authorization objects the challenge types that have
//     no listener, because autocert always tries TLS-ALPN-01 first and a
//     challenge bound to fail costs a failed validation at the CA;
//   - it ends every request when the round's context ends (autocert's
//     GetCertificate runs on a context of its own) and refuses all requests
//     once the round is retired.
type observer struct {
	base   http.RoundTripper
	ctx    context.Context
	offer  map[string]bool // challenge types with a listener
	maxLen int64

	mu         sync.Mutex
	retired    bool
	gotAnswer  bool   // some request of this round got an HTTP response
	newAccount string // URL from the directory
	accountBad bool
	failures   []challengeFailure
}

func newObserver(ctx context.Context, base http.RoundTripper, offer map[string]bool) *observer {
	return &observer{base: base, ctx: ctx, offer: offer, maxLen: 1 << 20}
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	o.mu.Lock()
	retired := o.retired
	o.mu.Unlock()
	if retired {
		return nil, errRetired
	}
	if err := o.ctx.Err(); err != nil {
		return nil, err
	}
	// Stop the request when either the caller's or the round's context ends.
	rctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(o.ctx, cancel)
	resp, err := o.base.RoundTrip(req.WithContext(rctx))
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, o.maxLen+1))
	resp.Body.Close()
	stop()
	cancel()
	if rerr == nil && int64(len(body)) > o.maxLen {
		rerr = fmt.Errorf("%s: response larger than %d bytes", req.URL, o.maxLen)
	}
	if rerr != nil {
		return nil, rerr
	}
	o.mu.Lock()
	o.gotAnswer = true
	o.mu.Unlock()
	body = o.inspect(req, resp, body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// wireChallenge and wireAuthz are the parts of RFC 8555 objects the
// observer reads.
type wireChallenge struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
	} `json:"error"`
}

type wireAuthz struct {
	Identifier struct {
		Value string `json:"value"`
	} `json:"identifier"`
	Challenges []json.RawMessage `json:"challenges"`
	NewAccount string            `json:"newAccount"` // directory objects
}

// inspect records what the response says and returns the (possibly
// filtered) body.
func (o *observer) inspect(req *http.Request, resp *http.Response, body []byte) []byte {
	if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return body
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.newAccount != "" && req.URL.String() == o.newAccount && resp.StatusCode >= 400 &&
		resp.StatusCode != http.StatusConflict && !bytes.Contains(body, []byte("badNonce")) {
		o.accountBad = true // 409 means "exists", badNonce is retried
	}
	var a wireAuthz
	if json.Unmarshal(body, &a) != nil {
		return body
	}
	if a.NewAccount != "" {
		o.newAccount = a.NewAccount
	}
	if a.Identifier.Value == "" || len(a.Challenges) == 0 {
		return body
	}
	var kept []json.RawMessage
	for _, raw := range a.Challenges {
		var ch wireChallenge
		if json.Unmarshal(raw, &ch) != nil {
			kept = append(kept, raw)
			continue
		}
		if ch.Error != nil && ch.Status == "invalid" {
			o.addFailure(challengeFailure{domain: a.Identifier.Value, typ: ch.Type, problem: ch.Error.Type, detail: ch.Error.Detail})
		}
		if isServed(ch.Type) && !o.offer[ch.Type] {
			continue
		}
		kept = append(kept, raw)
	}
	if len(kept) == len(a.Challenges) {
		return body
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return body
	}
	obj["challenges"], _ = json.Marshal(kept)
	out, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return out
}

// isServed reports whether certinit has a listener kind for the type.
func isServed(typ string) bool { return typ == "http-01" || typ == "tls-alpn-01" }

func (o *observer) addFailure(f challengeFailure) {
	for _, g := range o.failures {
		if g == f {
			return
		}
	}
	o.failures = append(o.failures, f)
}

func (o *observer) retire() {
	o.mu.Lock()
	o.retired = true
	o.mu.Unlock()
}

// answered reports whether the CA answered any request of this round.
func (o *observer) answered() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gotAnswer
}

func (o *observer) accountRefused() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.accountBad
}

func (o *observer) challengeFailures(domain string) []challengeFailure {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []challengeFailure
	for _, f := range o.failures {
		if f.domain == domain {
			out = append(out, f)
		}
	}
	return out
}
