package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/certinit/certinit/truststore"
	"github.com/certinit/certinit/verify"
)

// maxAIAFetches bounds the issuer URLs --save follows to reach a root:
// real chains have one or two certificates between leaf and root.
const maxAIAFetches = 4

// rooted is a chain that ends at a self-signed root, and where that root
// came from.
type rooted struct {
	chain []*x509.Certificate
	from  string // "trust", "mozilla", "server" or the URL it was fetched from
}

// saveChain keeps what a client needs to verify this server in dir, a
// dir: trust store (one PEM file per certificate, named after it, and
// OpenSSL hash links; see package truststore): the chain up to and
// including a self-signed root (the server's certificate itself when it
// is self-signed). The store never replaces a file that holds another
// certificate, so servers whose CAs share a name can be saved side by
// side. No root, nothing saved: a chain without one would not verify.
func saveChain(ctx context.Context, rep *Report, peer []*x509.Certificate, cr chainResult, chk *checker, dir string, log *slog.Logger) error {
	if len(peer) == 0 {
		rep.Diagnosis = append(rep.Diagnosis, "Nothing saved: the server sent no certificate.")
		return nil
	}
	r, err := chk.rootedChain(ctx, peer, cr)
	if err != nil {
		rep.Diagnosis = append(rep.Diagnosis, fmt.Sprintf("Nothing saved to %s: %v. A capath without the root verifies nothing.", dir, err))
		return nil
	}
	certs := r.chain[1:]
	if len(certs) == 0 {
		certs = r.chain // a self-signed server certificate
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("--save %s: %w", dir, err)
	}
	store, err := truststore.Open("/", "dir:"+abs, log)
	if err != nil {
		return fmt.Errorf("--save: %w", err)
	}
	srep, err := store.InstallInputs(ctx, truststore.CertInputs("the chain of "+rep.Address, certs...), truststore.InstallOptions{})
	if err != nil {
		return fmt.Errorf("--save: %w", err)
	}
	for _, c := range slices.Concat(srep.Added, srep.Present) {
		rep.Saved = append(rep.Saved, c.Source)
		log.Info("probe: saved certificate", "path", c.Source, "subject", c.Subject)
	}
	root := r.chain[len(r.chain)-1]
	switch r.from {
	case "trust":
	case "mozilla":
		rep.Diagnosis = append(rep.Diagnosis, fmt.Sprintf("Saved to %s the chain up to the root %q from the Mozilla root set certinit carries.", dir, shortName(root)))
	default:
		how := "as the server sent it"
		if r.from != "server" {
			how = "as fetched from " + r.from
		}
		rep.Diagnosis = append(rep.Diagnosis, fmt.Sprintf("Saved to %s the root %q %s, which nothing here verified: compare its SHA-256 fingerprint %s with one from a source you trust before relying on it.", dir, shortName(root), how, fingerprint(root)))
	}
	return nil
}

// rootedChain finds the chain from peer[0] to a self-signed root: the one
// the probe verified, else one built from what the server sent, the trust
// given, the Mozilla set and the issuers its certificates name (AIA
// caIssuers, fetched unless offline). Only signatures and names count
// here, not dates or purposes: --save keeps what the server uses.
func (c *checker) rootedChain(ctx context.Context, peer []*x509.Certificate, cr chainResult) (rooted, error) {
	if cr.chain != nil {
		return rooted{chain: cr.chain, from: "trust"}, nil
	}
	given := c.trust.v.Certificates()
	var moz []*x509.Certificate
	if c.mozilla != nil {
		moz, _ = c.mozilla() // without it, the other sources remain
	}
	anchors := slices.Concat(given, moz)
	untrusted := peer[1:len(peer):len(peer)]
	from := map[*x509.Certificate]string{}
	// add takes issuers fetched from the URLs of top: a root as an anchor
	// (trusted only to save it), anything else to build the chain with.
	add := func(top *x509.Certificate, got []*x509.Certificate) {
		for _, x := range got {
			if string(x.RawSubject) == string(x.RawIssuer) {
				anchors = append(anchors, x)
			} else {
				untrusted = append(untrusted, x)
			}
			from[x] = strings.Join(top.IssuingCertificateURL, ", ")
		}
	}
	if cr.verr != nil {
		add(cr.verr.Cert, cr.fetched)
	}
	for fetches := 0; ; {
		t, err := verify.NewTrust(anchors...)
		if err != nil {
			return rooted{}, err
		}
		chain, err := verify.Chain(slices.Concat(peer[:1], untrusted), t, verify.Options{NoCheckTime: true})
		if err == nil {
			root := chain[len(chain)-1]
			switch {
			case from[root] != "":
				return rooted{chain, from[root]}, nil
			case containsCert(given, root):
				return rooted{chain, "trust"}, nil
			}
			return rooted{chain, "mozilla"}, nil
		}
		var ve *verify.Error
		if !errors.As(err, &ve) {
			return rooted{}, err
		}
		top := ve.Cert
		switch {
		case ve.Code == verify.DepthZeroSelfSignedCert || ve.Code == verify.SelfSignedCertInChain:
			anchors = append(anchors, top) // the server's own root, trusted only to save it
			from[top] = "server"
			continue
		case !ve.MissingIssuer():
			return rooted{}, ve
		case len(top.IssuingCertificateURL) == 0 || c.fetch == nil || fetches == maxAIAFetches:
			return rooted{}, fmt.Errorf("no self-signed root for %q: its issuer %q is neither sent by the server nor in %s nor in the Mozilla set%s",
				shortName(top), dn(top.RawIssuer, top.Issuer), c.trust.describe(), issuerURLNote(top, c.fetch != nil))
		}
		fetches++
		got, err := c.fetch(ctx, top.IssuingCertificateURL)
		if err != nil {
			return rooted{}, fmt.Errorf("no self-signed root for %q: fetching its issuer failed: %v", shortName(top), err)
		}
		add(top, got)
	}
}

// issuerURLNote says where a certificate's issuer could be fetched from,
// when the probe did not fetch it.
func issuerURLNote(c *x509.Certificate, fetching bool) string {
	switch {
	case len(c.IssuingCertificateURL) == 0:
		return ", and the certificate names no URL for it"
	case !fetching:
		return " (the certificate names it at " + strings.Join(c.IssuingCertificateURL, ", ") + "; not fetched: --offline)"
	}
	return " (after following " + fmt.Sprint(maxAIAFetches) + " issuer URLs)"
}
