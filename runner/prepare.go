package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/truststore"
)

// The start-up copy checks the pair again when it changed between its
// check and its copy, at most copyAttempts times in all, each time waiting
// at least recheckWait for it to be valid (a renewal still being written).
const (
	copyAttempts = 5
	recheckWait  = 5 * time.Second
)

// beforeCopy, set by tests, runs before each start-up copy: where a
// renewal lands between the check and the copy.
var beforeCopy func()

// prepare runs the preparation steps in order: trust install, rehash,
// obtain, wait for the pair, copy. The first error stops it.
//
// SIGTERM and SIGINT cancel it (a --wait for a pair that never comes): as
// PID 1 a signal without a handler is dropped, and the supervisor, which
// forwards them later, has not started yet.
func (s *state) prepare(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if s.store != nil {
		if err := s.installTrustFiles(ctx); err != nil {
			return err
		}
	}
	for _, dir := range s.cfg.Rehash {
		if err := s.rehash(ctx, dir); err != nil {
			return err
		}
	}
	if s.issuer != nil {
		if err := s.obtain(ctx); err != nil {
			return err
		}
	}
	if s.files.Cert != "" {
		snap, err := s.waitForPair(ctx, s.cfg.Wait)
		if err != nil {
			return s.suggestWait(err)
		}
		s.snap = snap
		leaf := snap.Pair.Chain[0]
		s.log.Info("pair valid", "path", s.files.Cert, "serial", leaf.SerialNumber.Text(16),
			"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if s.cfg.CopyTo != "" {
		return s.copyPair(ctx)
	}
	return nil
}

// installTrustFiles is the trust install step: it records what the
// --trust files hold, then installs them. Read first, so that a change
// after the read is seen (changedSincePrepare); at worst a file changed
// between the two reads is installed once more.
func (s *state) installTrustFiles(ctx context.Context) error {
	s.trustRead = map[string][]byte{}
	for _, p := range s.cfg.Trust {
		data, err := pemfile.ReadFile(p)
		if err != nil {
			return err
		}
		s.trustRead[p] = data
	}
	return s.installTrust(ctx)
}

// installTrust installs every --trust file (Install checks them all before
// it writes: a bad file changes nothing) and then removes the certificates
// that an earlier version of the files brought in and none holds now.
func (s *state) installTrust(ctx context.Context) error {
	rep, err := s.store.Install(ctx, s.cfg.Trust, truststore.InstallOptions{AllowNonCA: s.cfg.AllowNonCA, AllowPartialChain: s.cfg.AllowPartialChain})
	if err != nil {
		return err
	}
	now := map[string]truststore.Cert{}
	names := map[string]bool{} // source files still holding a trusted certificate
	for _, ct := range append(rep.Added, rep.Present...) {
		if ct.Local {
			now[ct.Fingerprint] = ct
			names[ct.Name] = true
		}
	}
	var stale []string
	for fp, ct := range s.installed {
		// A name is a source file: one that still holds a current
		// certificate (a --trust file inside a dir: store) stays.
		if _, ok := now[fp]; !ok && !names[ct.Name] {
			stale = append(stale, ct.Name)
		}
	}
	s.installed = now
	removed := 0
	if len(stale) > 0 {
		slices.Sort(stale)
		stale = slices.Compact(stale)
		rm, err := s.store.Remove(ctx, stale)
		if err != nil {
			// Not a reason to keep the new CA from the server: the old
			// one was removed by hand, or cannot be.
			s.log.Warn("cannot remove a certificate the trust files no longer hold", "names", stale, "err", err)
		} else {
			removed = len(rm.Removed)
		}
	}
	s.log.Info("trust installed", "store", rep.Store, "added", len(rep.Added), "present", len(rep.Present),
		"removed", removed, "bundle", s.store.BundlePath())
	return nil
}

// rehash makes dir's OpenSSL hash links.
func (s *state) rehash(ctx context.Context, dir string) error {
	res, err := hashlink.Rehash(ctx, dir, hashlink.Options{Log: s.log})
	if err != nil {
		return err
	}
	s.log.Info("rehashed", "path", dir, "links", len(res.Links), "added", len(res.Added), "removed", len(res.Removed))
	return nil
}

// obtain is the ACME step: a valid certificate in the cache is reused
// without contacting the CA.
func (s *state) obtain(ctx context.Context) error {
	res, err := s.issuer.Obtain(ctx)
	if err != nil {
		return err
	}
	for _, crt := range res.Certs {
		s.log.Info("certificate", "domain", crt.Names[0], "serial", crt.Serial, "issued", crt.Issued,
			"not_after", crt.NotAfter.UTC().Format(time.RFC3339), "renew_at", crt.RenewAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// waitForPair waits up to wait for the pair to be there and valid. With
// --trust its chain must verify to what the machine trusts after the
// install: the --trust files when they anchor it (a private CA), else also
// the trust store's bundles (a public certificate beside a private CA for
// bridges). The narrower set is kept when it suffices, and the set that
// verified the pair at start-up is the one later changes must verify to.
// Only the pair is waited for, not its chain: a pair that is there and
// valid but does not verify is a configuration mistake, not a sidecar
// still writing. The pair is read once; the chain is checked on what was
// read.
func (s *state) waitForPair(ctx context.Context, wait time.Duration) (*reload.Snapshot, error) {
	if s.store == nil {
		return reload.WaitForPair(ctx, s.files, s.roots, wait, s.log)
	}
	snap, err := reload.WaitForPair(ctx, s.files, nil, wait, s.log)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	err = snap.VerifyChain(s.roots, now)
	if err == nil || s.widened {
		return snap, err
	}
	extra := s.storeRoots()
	wide := slices.Concat(s.roots, extra)
	if err := snap.VerifyChain(wide, now); err != nil {
		return nil, err
	}
	s.log.Debug("chain verifies to the trust store", "path", s.files.Cert, "roots", extra)
	s.roots, s.widened = wide, true
	return snap, nil
}

// suggestWait adds to the error of a pair that is not there, when
// nothing waited for it, how to wait: a sidecar (certbot, cert-manager)
// may not have written it yet.
func (s *state) suggestWait(err error) error {
	if s.cfg.Wait > 0 || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fmt.Errorf("%w; to wait for it to appear, give --wait DURATION (such as --wait 5m)", err)
}

// storeRoots are the bundles of what the machine trusts besides the
// --trust files: the store's, and, when the store is a dir: capath, the
// OS store's if the image has one.
func (s *state) storeRoots() []string {
	roots := []string{s.store.BundlePath()}
	if !strings.HasPrefix(s.store.Layout().Name, "dir:") {
		return roots
	}
	osStore, err := truststore.Open(s.cfg.Root, "auto", s.log)
	if err != nil {
		return roots
	}
	if fi, err := os.Stat(osStore.BundlePath()); err == nil && fi.Mode().IsRegular() {
		roots = append(roots, osStore.BundlePath())
	}
	return roots
}

// copyPair is the copy step. Like a reload, it copies only while the
// source still holds the bytes it checked (CopyToIfCurrent): another
// certinit sharing --copy-to may already have copied a newer pair, which
// this older one must not replace. When the source changed, the new pair
// is checked and copied instead, and becomes s.snap, the pair the server
// starts with.
func (s *state) copyPair(ctx context.Context) error {
	for n := 1; ; n++ {
		if beforeCopy != nil {
			beforeCopy()
		}
		written, err := s.snap.CopyToIfCurrent(ctx, s.cfg.CopyTo, s.cfg.copyOwner())
		switch {
		case err == nil:
			s.log.Info("copied", "files", written)
			return nil
		case !errors.Is(err, reload.ErrSuperseded):
			return err
		case n == copyAttempts:
			return fmt.Errorf("%s: the pair changed again after each of %d checks; nothing copied to %s",
				s.files.Cert, n, s.cfg.CopyTo)
		}
		s.log.Info("pair changed after it was checked; checking it again", "reason", err.Error(), "attempt", n)
		if s.snap, err = s.waitForPair(ctx, max(s.cfg.Wait, recheckWait)); err != nil {
			return err
		}
	}
}
