package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// checkTimeout bounds one Check: the listener runs on the same machine,
// so anything slower is a hung certinit.
const checkTimeout = 5 * time.Second

// Check asks the listener of `run --metrics-addr` at addr (as given to
// that flag) for /healthz, or for /readyz when ready is set, and returns
// its one-line answer. Any answer but 200 is an error carrying that line;
// so is no answer. It is `certinit health`: a Docker HEALTHCHECK for
// images without curl.
func Check(ctx context.Context, addr string, ready bool) (string, error) {
	target, err := DialAddr(addr)
	if err != nil {
		return "", err
	}
	path := HealthPath
	if ready {
		path = ReadyPath
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	u := "http://" + target + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	// No proxy: the listener is certinit's own, next to this process.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // net/http's `Get "URL":` prefix: the URL is named once
			err = ue.Err
		}
		return "", fmt.Errorf("%s: %w", u, err)
	}
	defer resp.Body.Close()
	line := firstLine(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", u, resp.Status, line)
	}
	return line, nil
}

// DialAddr turns a listen address (--metrics-addr) into one to connect
// to: a listener on every address (":9464", "0.0.0.0:9464", "[::]:9464")
// is reached on the loopback address of its family.
func DialAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("address %q: want HOST:PORT or :PORT", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// firstLine is the first line of an answer, read from at most a few
// kilobytes.
func firstLine(r io.Reader) string {
	s := bufio.NewScanner(io.LimitReader(r, 4096))
	if s.Scan() {
		return strings.TrimSpace(s.Text())
	}
	return ""
}
