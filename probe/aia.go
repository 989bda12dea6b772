package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/certinit/certinit/internal/pemfile"
)

// maxAIASize bounds an issuer certificate fetched from an AIA URL.
const maxAIASize = 1 << 20

// fetchIssuers downloads the certificates named by a certificate's
// Authority Information Access caIssuers URLs (plain HTTP, as CAs publish
// them), within the probe's timeout. They show whether a chain would
// complete, as intermediates, never as trust anchors; --save keeps a root
// fetched this way only with a warning that nothing vouches for it.
func fetchIssuers(ctx context.Context, client *http.Client, urls []string) ([]*x509.Certificate, error) {
	var errs []error
	for _, u := range urls {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			continue
		}
		certs, err := fetchIssuer(ctx, client, u)
		if err == nil {
			return certs, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("no http URL")
	}
	return nil, errors.Join(errs...)
}

func fetchIssuer(ctx context.Context, client *http.Client, addr string) ([]*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // fetchIssuers names the URL
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAIASize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAIASize {
		return nil, errors.New("larger than 1 MiB")
	}
	// DER (application/pkix-cert) or PEM; PKCS#7 bundles are not read.
	return pemfile.Certificates(data)
}
