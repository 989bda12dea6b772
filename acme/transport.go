package acme

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// newCATransport is the HTTP transport to the CA's API: its roots are the
// system's plus the configured CA file, with timeouts for every stage.
func newCATransport(pool *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// maxResponse bounds what certinit reads of one answer from the CA: a
// certificate chain or a directory is a few kilobytes.
const maxResponse = 1 << 20

// roundTransport is the transport of one order. It notes whether the CA
// answered at all, so that an error can tell a CA that is down from one
// that stopped answering in the middle of the order, and it bounds every
// answer's size.
type roundTransport struct {
	base     http.RoundTripper
	answered atomic.Bool
}

func (t *roundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.answered.Store(true)
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, maxResponse+1), c: resp.Body, url: req.URL.String()}
	return resp, nil
}

// limitedBody fails a read past maxResponse instead of truncating.
type limitedBody struct {
	r   io.Reader
	c   io.Closer
	n   int64
	url string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.n += int64(n); b.n > maxResponse {
		return n, fmt.Errorf("%s: response larger than %d bytes", b.url, maxResponse)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }
