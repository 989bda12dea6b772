package truststore

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/verify"
)

// This file reads and checks the certificate files given to Install.

// InstallOptions control Install.
type InstallOptions struct {
	// AllowNonCA accepts certificates that are neither CA certificates nor
	// self-signed (a server certificate pinned as a trust anchor).
	AllowNonCA bool
	// AllowPartialChain installs certificates that do not chain to a
	// self-signed root in the store (see chain.go); Report.Partial lists
	// them. OpenSSL clients do not accept what they issued.
	AllowPartialChain bool
	// MozillaRoots adds the Mozilla root set embedded in the binary.
	MozillaRoots bool
}

// errNotCA is wrapped by the error for a leaf certificate given to install.
var errNotCA = errors.New("not a CA certificate")

// readInput reads one input file and checks every certificate in it. The
// error names the file and says what to do instead.
func readInput(path string, opts InstallOptions) ([]byte, []*x509.Certificate, error) {
	data, err := pemfile.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	blocks, err := pemfile.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var certs []*x509.Certificate
	for i, b := range blocks {
		switch b.Kind {
		case pemfile.KindKey:
			return nil, nil, fmt.Errorf("%s: contains a private key; give certinit only CA certificates, and keep the key out of the trust store", path)
		case pemfile.KindCRL:
			return nil, nil, fmt.Errorf("%s: contains a CRL, not a certificate; a trust store holds CA certificates only", path)
		case pemfile.KindOther:
			if f := pemfile.Container(data); f != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, f)
			}
			return nil, nil, fmt.Errorf("%s: block %d is a %q PEM block, not a certificate", path, i+1, b.Type)
		}
		c, err := x509.ParseCertificate(b.CertDER())
		if err != nil {
			return nil, nil, fmt.Errorf("%s: certificate %d: %w", path, i+1, err)
		}
		// A trust store holds CAs, and self-signed certificates, which
		// OpenSSL trusts for themselves; both as OpenSSL decides them.
		if !opts.AllowNonCA && !verify.IsCA(c) && !verify.SelfSigned(c) {
			return nil, nil, fmt.Errorf("%s: certificate %d (%s) is %w and not self-signed: it looks like a server or client certificate. Trust the root CA at the top of its chain instead: a private CA's root certificate, or for a public certificate the root itself or certbot's chain.pem, beside which certinit installs the root from its Mozilla set (OpenSSL needs the root: an intermediate alone trusts nothing); or pass --allow-non-ca to trust this certificate itself", path, i+1, subject(c), errNotCA)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("%s: no certificate in file", path)
	}
	return data, certs, nil
}

// Inputs are certificate files read and checked (ReadInputs), to be
// installed as they were read: a caller that must stop on bad input
// before other work, and remember what it installed, reads each file once.
type Inputs struct {
	files []inputFile
}

type inputFile struct {
	path  string
	data  []byte
	certs []*x509.Certificate
	held  bool // certificates in hand (CertInputs): path only names where they came from
}

// ReadInputs reads and checks the certificate files as Install does before
// it writes anything, and returns the error Install would: every file
// with a problem is reported, one error each (errors.Join), so that one
// run shows all of them.
func ReadInputs(files []string, opts InstallOptions) (*Inputs, error) {
	in := &Inputs{files: make([]inputFile, 0, len(files))}
	var errs []error
	for _, f := range files {
		data, certs, err := readInput(f, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		in.files = append(in.files, inputFile{path: f, data: data, certs: certs})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return in, nil
}

// CertInputs are certificates already in hand, such as the chain a server
// sent, as Install's input: from says where they came from, for messages
// and the report; it is not a file. They skip ReadInputs' checks of what a
// file holds (no key, no CRL, no leaf unless AllowNonCA), since they hold
// nothing but these certificates: give it CA certificates, or a
// self-signed one to be trusted as it is.
func CertInputs(from string, certs ...*x509.Certificate) *Inputs {
	return &Inputs{files: []inputFile{{path: from, data: pemfile.EncodeCerts(certs...), certs: certs, held: true}}}
}

// Data returns the bytes read from path, or nil when it is not one of the
// files.
func (in *Inputs) Data(path string) []byte {
	for _, f := range in.files {
		if f.path == path {
			return f.data
		}
	}
	return nil
}
