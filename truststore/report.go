package truststore

// Report says what an operation did. Paths are inside the root.
type Report struct {
	Store   string `json:"store"`
	Bundle  string `json:"bundle"`
	Added   []Cert `json:"added,omitempty"`   // newly installed
	Present []Cert `json:"present,omitempty"` // already in the store
	Removed []Cert `json:"removed,omitempty"`
	// Links created and removed in the store's link and hash directories.
	LinksCreated []string `json:"links_created,omitempty"`
	LinksRemoved []string `json:"links_removed,omitempty"`
	// Completed are the roots Install took from the Mozilla set, beside
	// the certificates that chain to them; they are in Added too.
	Completed []Completion `json:"completed,omitempty"`
	// Partial are the certificates installed with AllowPartialChain that
	// do not chain to a self-signed root in the store.
	Partial []Partial `json:"partial,omitempty"`
	// Split are the bundles found in a dir: store and split into one
	// file per certificate (see dirEngine).
	Split []Split `json:"split,omitempty"`
	// Migrated is the bundle an older certinit kept in a dir: store under
	// a name rehash reads (ca-certificates.crt), now removed: Bundle holds
	// its certificates.
	Migrated string `json:"migrated_from,omitempty"`
}

// Split is a bundle in a dir: store split into one file per certificate.
type Split struct {
	Bundle string `json:"bundle"`          // in-root path of the bundle as found
	KeptAs string `json:"kept_as"`         // in-root path the bundle moved to, which rehash ignores; "" when it stayed (a file given to install)
	Certs  []Cert `json:"certs,omitempty"` // certificates that got a file of their own (the others had one)
}

// record copies what a sync did into the report.
func (rep *Report) record(ch changes) {
	rep.LinksCreated, rep.LinksRemoved = ch.created, ch.removed
	rep.Split, rep.Migrated = ch.split, ch.migrated
}

func (s *Store) report() *Report {
	return &Report{Store: s.layout.Name, Bundle: s.layout.Bundle}
}

// Completion is a root Install took from the Mozilla set because a
// certificate given to it chains to that root.
type Completion struct {
	For  Cert `json:"for"`  // the certificate given
	Root Cert `json:"root"` // the root installed beside it
}

// Partial is a certificate installed with AllowPartialChain although it
// does not chain to a self-signed root in the store: OpenSSL clients will
// not accept what it issued until that root is trusted too.
type Partial struct {
	Cert          Cert     `json:"cert"`
	MissingIssuer string   `json:"missing_issuer"`        // RFC 4514 name of the issuer not in the store, escaped as Cert.Subject
	IssuerURLs    []string `json:"issuer_urls,omitempty"` // where the certificate says its issuer is (AIA caIssuers), as written there: escape before printing
}
