package reload

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pemfile"
)

// Files names the certificate material a server loads. Chain is optional
// (certbot's chain.pem, kept next to the pair and copied with it).
type Files struct {
	Cert, Key, Chain string
}

func (f Files) list() []string {
	out := []string{f.Cert, f.Key}
	if f.Chain != "" {
		out = append(out, f.Chain)
	}
	return out
}

// Snapshot is a pair that passed the checks, with the exact bytes that
// were checked, so a copy writes what was validated and nothing newer.
type Snapshot struct {
	Files Files
	Pair  *pemfile.Pair
	data  map[string][]byte // by path
}

// Load reads and checks a pair the way the server will when it loads it:
// both files parse, the key matches the certificate, the certificate is
// valid now, and, when roots (CA files) are given, the chain verifies to
// one of them. A file that changes while it is being checked (a renewal
// still being written) is refused too; the watcher sees the next write.
// Errors name the file at fault.
func Load(f Files, roots []string, now time.Time) (*Snapshot, error) {
	before, err := readAll(f.list())
	if err != nil {
		return nil, err
	}
	pair, err := pemfile.LoadPair(f.Cert, f.Key, now)
	if err != nil {
		return nil, err
	}
	inter := pair.Chain[1:]
	if f.Chain != "" {
		certs, err := pemfile.ReadCertificates(f.Chain)
		if err != nil {
			return nil, err
		}
		inter = append(inter, certs...)
	}
	if len(roots) > 0 {
		if err := verifyChain(f.Cert, pair.Chain[0], inter, roots, now); err != nil {
			return nil, err
		}
	}
	after, err := readAll(f.list())
	if err != nil {
		return nil, err
	}
	for p, b := range before {
		if !bytes.Equal(b, after[p]) {
			return nil, fmt.Errorf("%s: changed while being checked (still being written?)", p)
		}
	}
	return &Snapshot{Files: f, Pair: pair, data: before}, nil
}

func readAll(paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := pemfile.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out[p] = b
	}
	return out, nil
}

// verifyChain checks that leaf chains to one of the certificates in the
// root files through the given intermediates. Only the chain is checked,
// not a host name or a key usage: which names clients use is not known here.
func verifyChain(certPath string, leaf *x509.Certificate, inter []*x509.Certificate, rootFiles []string, now time.Time) error {
	roots := x509.NewCertPool()
	for _, rf := range rootFiles {
		certs, err := pemfile.ReadCertificates(rf)
		if err != nil {
			return err
		}
		for _, c := range certs {
			roots.AddCert(c)
		}
	}
	pool := x509.NewCertPool()
	for _, c := range inter {
		pool.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("%s: chain does not verify: %w", certPath, err)
	}
	return nil
}

// CopyTo writes the snapshot's files into dir under their own base names,
// through atomicfile: certificates 0644, the key 0600 (0640 when o names a
// group), owned by o when it is set. It creates dir (0755) if needed and
// returns the paths written.
func (s *Snapshot) CopyTo(dir string, o *owner.Owner) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("copy to %s: %w", dir, err)
	}
	var written []string
	// The server is signalled only after all of them are in place.
	for _, src := range []string{s.Files.Cert, s.Files.Chain, s.Files.Key} {
		if src == "" {
			continue
		}
		mode := os.FileMode(0o644)
		if src == s.Files.Key {
			mode = o.KeyMode()
		}
		dst := filepath.Join(dir, filepath.Base(src))
		if err := atomicfile.WriteFileOpts(dst, s.data[src], mode, o.WriteOptions()); err != nil {
			return written, err
		}
		written = append(written, dst)
	}
	return written, nil
}

// WaitForPair loads the pair, retrying until it is valid or wait has
// passed (a certbot or cert-manager sidecar may write it after certinit
// starts). With wait zero it tries once. The error is the last reason.
func WaitForPair(ctx context.Context, f Files, roots []string, wait time.Duration, log *slog.Logger) (*Snapshot, error) {
	const interval = 250 * time.Millisecond
	deadline := time.Now().Add(wait)
	logged := false
	for {
		snap, err := Load(f, roots, time.Now())
		if err == nil {
			return snap, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			if wait > 0 {
				return nil, fmt.Errorf("%w (waited %s)", err, wait)
			}
			return nil, err
		}
		if !logged && log != nil {
			log.Info("waiting for certificate", "path", f.Cert, "reason", err.Error(), "wait", wait)
			logged = true
		}
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (interrupted while waiting)", err)
		case <-t.C:
		}
	}
}
