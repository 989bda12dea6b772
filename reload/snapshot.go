package reload

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/dirlock"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
	"github.com/certinit/certinit/verify"
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
	data  map[string][]byte   // by path
	extra []*x509.Certificate // the Chain file's certificates
}

// Why Load refuses a pair besides the reasons of pemfile.ParsePair; its
// errors wrap one of these.
var (
	// ErrWeak: Mosquitto's TLS library refuses to load the certificate
	// file: a key or a signature digest weaker than its security level
	// allows (verify.CheckLoad).
	ErrWeak = fmt.Errorf("OpenSSL at security level %d, as Mosquitto runs it, refuses to load it", verify.MosquittoSecurityLevel)
	// ErrChain: the chain does not verify to the roots given.
	ErrChain = errors.New("chain does not verify")
)

// Load reads and checks a pair the way the server will when it loads it,
// and more: both files parse, the key matches the certificate, OpenSSL at
// Mosquitto's security level loads the certificate file (ErrWeak
// otherwise), the certificate is valid now, and, when roots (CA files) are
// given, the chain verifies to them as Mosquitto's clients verify it
// (VerifyChain). Each file is read once and the snapshot holds the bytes
// that were checked; Current says whether the files still hold them.
// Errors name the file at fault.
func Load(f Files, roots []string, now time.Time) (*Snapshot, error) {
	data, err := readAll(f.list())
	if err != nil {
		return nil, err
	}
	pair, err := pemfile.ParsePair(f.Cert, data[f.Cert], f.Key, data[f.Key], now)
	if err != nil {
		return nil, err
	}
	if err := verify.CheckLoad(pair.Chain, verify.MosquittoSecurityLevel); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", f.Cert, ErrWeak, err)
	}
	s := &Snapshot{Files: f, Pair: pair, data: data}
	if f.Chain != "" {
		if s.extra, err = pemfile.Certificates(data[f.Chain]); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Chain, err)
		}
	}
	if len(roots) > 0 {
		if err := s.VerifyChain(roots, now); err != nil {
			return nil, err
		}
	}
	return s, nil
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

// VerifyChain checks that the certificate, with the rest of its file and
// the Chain file's certificates as intermediates, verifies to the
// certificates of the root files as OpenSSL verifies a server's chain for
// Mosquitto's clients (verify.Chain): up to a self-signed certificate among
// them, every certificate for TLS servers, keys and digests at Mosquitto's
// security level, all valid at now. A CA among the roots that is not
// self-signed is no anchor. Host names are not checked: which names
// clients use is not known here. The error wraps ErrChain.
func (s *Snapshot) VerifyChain(roots []string, now time.Time) error {
	var certs []*x509.Certificate
	for _, rf := range roots {
		c, err := pemfile.ReadCertificates(rf)
		if err != nil {
			return err
		}
		certs = append(certs, c...)
	}
	trust, err := verify.NewTrust(certs...)
	if err == nil {
		_, err = verify.Chain(slices.Concat(s.Pair.Chain, s.extra), trust,
			verify.Options{Purpose: verify.ServerAuth, SecurityLevel: verify.MosquittoSecurityLevel, Time: now})
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %w", s.Files.Cert, ErrChain, err)
	}
	return nil
}

// sameBytes reports whether s and o hold the same files with the same bytes.
func (s *Snapshot) sameBytes(o *Snapshot) bool {
	if s.Files != o.Files {
		return false
	}
	for _, p := range s.Files.list() {
		if !bytes.Equal(s.data[p], o.data[p]) {
			return false
		}
	}
	return true
}

// ErrSuperseded is wrapped by CopyToIfCurrent when a source file no
// longer holds the bytes that were checked.
var ErrSuperseded = errors.New("changed again after it was checked; the newer files are copied next")

// Current checks that the source files still hold the bytes that were
// checked. If one does not, or is gone (certbot unlinks a live/ link before
// it creates the new one), the error wraps ErrSuperseded and names it; a
// file that cannot be read now for another reason gives that error.
func (s *Snapshot) Current() error {
	now, err := readAll(s.Files.list())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", err, ErrSuperseded)
	} else if err != nil {
		return err
	}
	for _, p := range s.Files.list() {
		if !bytes.Equal(now[p], s.data[p]) {
			return fmt.Errorf("%s: %w", p, ErrSuperseded)
		}
	}
	return nil
}

// CopyTo writes the snapshot's files into dir under their own base names,
// through atomicfile: certificates 0644, the key 0600 (0640 when o names a
// group), owned by o when it is set. It creates dir (0755) if needed and
// returns the paths written.
//
// Several certinit processes may share dir (two brokers on one volume, the
// old and the new pod of a rollout). What a reader of dir can rely on:
//   - each file is complete at every moment (atomic rename);
//   - copies are serialised by dir's lock (internal/dirlock), so two
//     processes never interleave their writes and leave one pair's
//     certificate with the other's key;
//   - a file that already holds exactly these bytes, mode and owner is not
//     rewritten, so a second process copying the same renewal changes
//     nothing;
//   - the files are written complete under temporary names first, then
//     renamed into place one right after the other, the certificate first:
//     a reader that opens the certificate and then the key just between
//     those renames gets the new certificate with the old key. That gap
//     holds no write, only the next rename; no scheme can close it for a reader that opens
//     two files at two moments. certinit signals its own server only after
//     the whole copy, and copies again only after the server has read it
//     (Reloader).
//
// The copies are not fsynced (atomicfile.Options.NoSync): they are derived
// from the source, and every start of certinit copies again whatever does
// not hold the source's bytes, so a copy that a power cut left empty or
// old never reaches the server.
func (s *Snapshot) CopyTo(ctx context.Context, dir string, o *owner.Owner) ([]string, error) {
	return s.copyTo(ctx, dir, o, false)
}

// CopyToIfCurrent is CopyTo, except that once dir is locked it checks that
// the source files still hold the bytes that were checked. If one does not,
// it writes nothing and returns an error wrapping ErrSuperseded: another
// process may already have copied the newer files, and these older ones
// must not replace them. The watcher that saw the first change sees the
// newer one too, and that change is copied.
func (s *Snapshot) CopyToIfCurrent(ctx context.Context, dir string, o *owner.Owner) ([]string, error) {
	return s.copyTo(ctx, dir, o, true)
}

func (s *Snapshot) copyTo(ctx context.Context, dir string, o *owner.Owner, ifCurrent bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("copy to %s: %w", dir, err)
	}
	unlock, err := dirlock.Lock(ctx, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("copy to %s: %w", dir, err)
	}
	defer unlock()
	if ifCurrent {
		if err := s.Current(); err != nil {
			return nil, err
		}
	}
	var files []copyFile
	wo := o.WriteOptions()
	wo.NoSync = true
	for _, src := range []string{s.Files.Cert, s.Files.Chain, s.Files.Key} {
		if src == "" {
			continue
		}
		mode := os.FileMode(0o644)
		if src == s.Files.Key {
			mode = o.KeyMode()
		}
		f := copyFile{dst: filepath.Join(dir, filepath.Base(src)), data: s.data[src], mode: mode}
		if !inPlace(f.dst, f.data, f.mode, wo) {
			files = append(files, f)
		}
	}
	return commit(dir, files, wo)
}

// copyFile is one file of a copy.
type copyFile struct {
	dst  string
	data []byte
	mode os.FileMode
}

// commit writes the files as one group through atomicfile.WriteFiles: each
// complete under a temporary name first, then all renamed into place back
// to back, so a reader can meet the new certificate beside the old key only
// between two renames, never while a file is written.
func commit(dir string, files []copyFile, wo atomicfile.Options) (written []string, err error) {
	group := make([]atomicfile.File, len(files))
	for i, f := range files {
		group[i] = atomicfile.File{Path: f.dst, Data: f.data, Perm: f.mode}
	}
	written, err = atomicfile.WriteFiles(group, wo)
	if err != nil {
		return written, fmt.Errorf("copy to %s: %w", dir, err)
	}
	return written, nil
}

// inPlace reports whether dst is a regular file that already holds data
// with the given mode and the owner a write with wo would give it.
func inPlace(dst string, data []byte, mode os.FileMode, wo atomicfile.Options) bool {
	fi, err := os.Lstat(dst)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&^os.ModeType != mode || fi.Size() != int64(len(data)) {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); wo.Chown && (!ok ||
		wo.UID >= 0 && int(st.Uid) != wo.UID || wo.GID >= 0 && int(st.Gid) != wo.GID) {
		return false
	}
	b, err := userfile.Read(dst, int64(len(data)))
	return err == nil && bytes.Equal(b, data)
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
