package reload

import (
	"crypto/x509"
	"path/filepath"

	"github.com/certinit/certinit/internal/pemfile"
)

// A server built on OpenSSL (Mosquitto, and most brokers) keeps one
// certificate per key type in its SSL_CTX: one RSA, one ECDSA, one Ed25519
// slot. A reload signal loads the new pair into its own type's slot and
// leaves the others as they are, and OpenSSL picks a slot per handshake
// from the signature algorithms the client offers. So after a renewal that
// changes the key type, the old certificate is still served to some
// clients until it expires (then those clients fail), and its key stays in
// use, which is often why the key was changed. The slot is what matters:
// the public key algorithm, not the curve or the size. Only a restart
// empties the other slots, so a change of key type restarts the server.
// docs/run.md shows what Mosquitto serves after each kind of change;
// runner/keytype_test.go (TestMosquittoKeepsOldKeyTypeOnHUP) fails when
// the broker stops keeping the old certificate.

// keyType is the public key algorithm of a served certificate (its
// OpenSSL slot) with a description for the log ("ECDSA P-256").
type keyType struct {
	alg  x509.PublicKeyAlgorithm // x509.UnknownPublicKeyAlgorithm: not known
	desc string
}

func leafKeyType(leaf *x509.Certificate) keyType {
	return keyType{alg: leaf.PublicKeyAlgorithm, desc: pemfile.KeyDescription(leaf.PublicKey)}
}

// changedFrom reports whether a server that loaded a pair of type old
// keeps that certificate beside this one after a reload signal. An
// unknown type on either side is not a change.
func (k keyType) changedFrom(old keyType) bool {
	return k.alg != x509.UnknownPublicKeyAlgorithm && old.alg != x509.UnknownPublicKeyAlgorithm && k.alg != old.alg
}

// startingKeyType is the key type of the pair the server starts with:
// cfg.Initial's, the pair the preparation checked and copied, when it is
// set. Otherwise it is read from disk: the copy in cfg.CopyTo when there
// is one (what the server reads), else cfg.Files.Cert; a renewal that
// lands between the preparation and New makes that read wrong, which is
// why the CLI passes Initial. A file that cannot be read gives an unknown
// type, which the first good change replaces.
func startingKeyType(cfg Config) keyType {
	if cfg.Initial != nil {
		return leafKeyType(cfg.Initial.Pair.Chain[0])
	}
	if cfg.Files.Cert == "" {
		return keyType{}
	}
	paths := []string{cfg.Files.Cert}
	if cfg.CopyTo != "" {
		paths = append([]string{filepath.Join(cfg.CopyTo, filepath.Base(cfg.Files.Cert))}, paths...)
	}
	for _, p := range paths {
		if certs, err := pemfile.ReadCertificates(p); err == nil {
			return leafKeyType(certs[0])
		}
	}
	return keyType{}
}
