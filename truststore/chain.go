package truststore

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/safetext"
	"github.com/certinit/certinit/verify"
)

// This file holds Install's chain check. OpenSSL, as Mosquitto runs it,
// trusts a certificate only through a chain that ends at a self-signed
// certificate in the trust set (no partial chains, see package verify).
// An intermediate CA installed alone (certbot's chain.pem) therefore
// trusts nothing. Install checks every certificate it is given against
// the store it will leave: the store's certificates and the ones being
// installed. When a chain stops below its root and that root is in the
// Mozilla set certinit carries, and the store's configuration does not
// disable it, the root is installed too; otherwise Install refuses,
// unless AllowPartialChain.

// ErrPartialChain is wrapped by Install's error for a certificate that
// does not chain to a self-signed root in the store.
var ErrPartialChain = errors.New("does not chain to a self-signed root in the store")

// mozillaSet is the Mozilla root set Install may complete chains from; a
// test seam, since no public intermediate is at hand offline.
var mozillaSet = MozillaRoots

// chainCheck is what checkChains found, and what it works with.
type chainCheck struct {
	roots     []*x509.Certificate // from the Mozilla set, to install
	completed []Completion
	partial   []Partial

	s        *Store
	opts     InstallOptions
	all      []*x509.Certificate // the store as it will be
	trust    *verify.Trust       // all, as a trust set
	moz      *verify.Trust       // all plus the Mozilla roots not disabled; nil until needed
	disabled map[string]string   // disabled Mozilla roots by subjectKey: what disables them
}

// checkChains checks every certificate of the inputs, and the Mozilla
// roots asked for (extra), against the store they will be in: held (the
// store's certificates) plus all of them.
func (s *Store) checkChains(in *Inputs, extra, held []*x509.Certificate, opts InstallOptions) (*chainCheck, error) {
	ck := &chainCheck{s: s, opts: opts, all: slices.Concat(loadable(held, s.log), extra)}
	for _, f := range in.files {
		ck.all = append(ck.all, f.certs...)
	}
	var err error
	if ck.trust, err = verify.NewTrust(ck.all...); err != nil {
		return nil, err
	}
	for _, f := range in.files {
		for i, c := range f.certs {
			if err := ck.check(f.path, i, c); err != nil {
				return nil, err
			}
		}
	}
	return ck, nil
}

// check decides about certificate i of file: it chains to a root in the
// store, or to a Mozilla root that is then added, or it is a partial
// chain, an error unless AllowPartialChain.
func (ck *chainCheck) check(file string, i int, c *x509.Certificate) error {
	s := ck.s
	_, err := verify.Chain([]*x509.Certificate{c}, ck.trust, verify.Options{NoCheckTime: true})
	var ve *verify.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &ve):
		return fmt.Errorf("%s: certificate %d: %w", file, i+1, err)
	case !ve.MissingIssuer():
		s.log.Warn("OpenSSL will refuse chains through this certificate", "path", file, "subject", c.Subject.String(), "err", err)
		return nil
	}
	if ck.moz == nil {
		if ck.moz, ck.disabled, err = s.mozillaTrust(ck.all); err != nil {
			return err
		}
	}
	if chain, err := verify.Chain([]*x509.Certificate{c}, ck.moz, verify.Options{NoCheckTime: true}); err == nil {
		root := chain[len(chain)-1]
		ck.all = append(ck.all, root)
		ck.trust, _ = verify.NewTrust(ck.all...) // loaded already, in moz
		ck.roots = append(ck.roots, root)
		ck.completed = append(ck.completed, Completion{For: newCert(c, file, true, s.now()), Root: newCert(root, "", true, s.now())})
		s.log.Info("adding the root from the Mozilla set", "path", file, "subject", c.Subject.String(), "root", root.Subject.String())
		return nil
	}
	top := ve.Cert
	if !ck.opts.AllowPartialChain {
		return partialError(file, i, c, top, ck.disabled[issuerKey(top)])
	}
	ck.partial = append(ck.partial, Partial{
		Cert:          newCert(c, file, true, s.now()),
		MissingIssuer: safetext.Name(top.Issuer.String()),
		IssuerURLs:    top.IssuingCertificateURL,
	})
	s.log.Warn("installing a certificate that does not chain to a self-signed root in the store: OpenSSL clients will not accept what it issued",
		"path", file, "subject", c.Subject.String(), "missing_issuer", top.Issuer.String())
	return nil
}

// partialError is the one line for a certificate whose chain stops at top,
// a certificate whose issuer is in neither the store nor the Mozilla set
// (or disabled there: why says where).
func partialError(file string, i int, c, top *x509.Certificate, why string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "its issuer %s is missing", top.Issuer)
	if len(top.IssuingCertificateURL) > 0 {
		fmt.Fprintf(&b, " (the certificate names it at %s)", strings.Join(top.IssuingCertificateURL, ", "))
	}
	if why != "" {
		fmt.Fprintf(&b, "; certinit's Mozilla set has it, but %s", why)
	}
	b.WriteString(". OpenSSL (Mosquitto) trusts a chain only when it ends at a self-signed root it trusts: install that root too, or pass --allow-partial-chain to install this anyway")
	return fmt.Errorf("%s: certificate %d (%s) %w: %s", file, i+1, c.Subject, ErrPartialChain, b.String())
}

// mozillaTrust returns the store's certificates plus the Mozilla roots its
// configuration does not disable, and for those it disables, keyed by
// issuerKey, what disables them.
func (s *Store) mozillaTrust(held []*x509.Certificate) (*verify.Trust, map[string]string, error) {
	roots, err := mozillaSet(s.log)
	if err != nil {
		return nil, nil, err
	}
	disables := s.disabler()
	disabled := map[string]string{}
	certs := held
	for _, r := range roots {
		if why := disables(r); why != "" {
			disabled[subjectKey(r)] = why
			continue
		}
		certs = append(certs, r)
	}
	t, err := verify.NewTrust(certs...)
	return t, disabled, err
}

// subjectKey and issuerKey match a root to the certificate it issued for
// the error message (the raw names, which is close enough for a message).
func subjectKey(c *x509.Certificate) string { return string(c.RawSubject) }
func issuerKey(c *x509.Certificate) string  { return string(c.RawIssuer) }

// disabler reads the store's configuration once and returns a function
// that says what in it keeps a root out of the store, or "": Debian's and
// Alpine's "!" lines in ca-certificates.conf; p11-kit's blocklists,
// distrusted objects and stapled extended key usages without TLS servers.
// A dir: store has no configuration.
func (s *Store) disabler() func(root *x509.Certificate) string {
	switch e := s.eng.(type) {
	case *debianEngine:
		return e.deselector()
	case *p11Engine:
		ps := e.gather(syncOptions{})
		return func(root *x509.Certificate) string {
			switch {
			case ps.distrusted[fingerprint(root.Raw)]:
				return "the store's blocklist distrusts it"
			case !ps.serverAuth(root):
				return "the store's p11-kit configuration limits it to other uses than TLS servers"
			}
			return ""
		}
	}
	return func(*x509.Certificate) string { return "" }
}

// deselector finds the "!" line of ca-certificates.conf that deselects a
// root: one naming a file that holds the root, or, when the file is not
// there, the name Debian gives the root's file (mozilla/COMMON_NAME.crt).
func (e *debianEngine) deselector() func(root *x509.Certificate) string {
	l := e.s.layout
	held := map[string]string{} // fingerprint -> the line deselecting it
	var missing []string        // lines naming no readable file
	for _, crt := range e.confDeselected() {
		data, err := e.s.root.readFile(l.SystemDir + "/" + crt)
		if err != nil {
			missing = append(missing, crt)
			continue
		}
		certs, _ := parseCerts(data)
		for _, c := range certs {
			held[fingerprint(c.Raw)] = crt
		}
	}
	return func(root *x509.Certificate) string {
		crt, ok := held[fingerprint(root.Raw)]
		if !ok && root.Subject.CommonName != "" {
			name := linkChars.Replace(root.Subject.CommonName) + ".crt"
			for _, m := range missing {
				if path.Base(m) == name {
					crt, ok = m, true
				}
			}
		}
		if !ok {
			return ""
		}
		return fmt.Sprintf("%s deselects it (!%s)", l.ConfFile, crt)
	}
}

// heldCerts are the certificates the store holds, srcs's and those of
// the bundles a dir: store is about to split.
func (s *Store) heldCerts(srcs []source) []*x509.Certificate {
	var out []*x509.Certificate
	if e, ok := s.eng.(*dirEngine); ok {
		if v, err := loadVdir(s.root, s.layout.LocalDir); err == nil {
			for _, b := range e.scan(v, syncOptions{}).bundles {
				out = append(out, b.certs...)
			}
		}
	}
	for _, src := range srcs {
		out = append(out, src.certs...)
	}
	return out
}

// loadable leaves out the certificates OpenSSL could not load (a name it
// cannot decode): they are no part of the trust OpenSSL sees, and must not
// stop an install.
func loadable(certs []*x509.Certificate, log *slog.Logger) []*x509.Certificate {
	out := certs[:0:0]
	for _, c := range certs {
		_, errS := hashlink.CanonicalName(c.RawSubject)
		_, errI := hashlink.CanonicalName(c.RawIssuer)
		if errS != nil || errI != nil {
			log.Debug("certificate OpenSSL cannot load left out of the chain check", "subject", c.Subject.String())
			continue
		}
		out = append(out, c)
	}
	return out
}
