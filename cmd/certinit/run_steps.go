package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/truststore"
	"github.com/certinit/certinit/watch"
)

// This file wires run and init to truststore (--trust), hashlink (--rehash)
// and acme (--acme-*): their flags, their preparation steps and the reload
// hooks that keep the trust store and hash links in step with changes.

// integrationFlags are run's and init's options for the trust store, hash
// links and in-process certificates. The --acme-* options are acme
// obtain's, built by acmeFlags; --owner is shared with --copy-to.
func integrationFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "trust", Usage: "install CA certificate `FILE` into the trust store before starting, again when it changes (repeatable)"},
		&cli.StringFlag{Name: "trust-store", Value: "auto", Usage: "store --trust goes to: auto, debian, alpine, rhel, suse, arch or dir:PATH (a capath; PATH inside --root)"},
		&cli.StringFlag{Name: "root", Value: "/", Usage: "`DIR` holding the OS tree of the trust store"},
		&cli.BoolFlag{Name: "allow-non-ca", Usage: "also accept --trust certificates that are neither CA certificates nor self-signed"},
		&cli.StringSliceFlag{Name: "rehash", Usage: "keep OpenSSL hash links in `DIR` (a capath), as openssl rehash does (repeatable)"},
	}
	for _, f := range acmeFlags(acmePrefix) {
		if f.Names()[0] != acmeFlagName(acmePrefix, "owner") {
			flags = append(flags, f)
		}
	}
	return flags
}

// acmePrefix names acme obtain's options under run and init.
const acmePrefix = "acme-"

// integration is what run and init do besides the pair: the parsed
// --trust, --rehash and --acme-* options.
type integration struct {
	trust       []string
	root        string            // --root
	store       *truststore.Store // nil without --trust
	installOpts truststore.InstallOptions
	rehash      []string
	issuer      acme.Issuer // nil without --acme-domain
	// widened is set once the trust store's bundles joined the roots a
	// pair must verify to (the --trust files did not anchor it).
	widened bool
	// inputs are the --trust files as the preparation read and checked
	// them, until installed; trustInstalled holds their bytes, to catch a
	// change before the watcher's baseline.
	inputs         *truststore.Inputs
	trustInstalled map[string][]byte
	// trustDone, when not nil, is closed when a trust install running
	// beside the other preparation steps ends (prepareTrustAside).
	trustDone chan struct{}

	// installed holds, by fingerprint, the locally installed certificates
	// the --trust files put (or found) in the store at their last install,
	// so a certificate a changed --trust file no longer holds is removed.
	installed map[string]truststore.Cert
}

// parseIntegration reads the integration options into rc. With
// --acme-domain the pair is the ACME output: rc.reload.Files points there
// and o (--owner) also owns that output.
func (a *app) parseIntegration(c *cli.Context, rc *runConfig, o *owner.Owner) error {
	in := &rc.integ
	in.trust, in.rehash = c.StringSlice("trust"), c.StringSlice("rehash")
	if len(in.trust) == 0 {
		for _, f := range []string{"trust-store", "root", "allow-non-ca"} {
			if c.IsSet(f) {
				return usageErrorf("--%s applies to --trust files: give --trust FILE", f)
			}
		}
	} else {
		spec := c.String("trust-store")
		if spec != "auto" && spec != "" {
			if _, err := truststore.LayoutByName(spec); err != nil {
				return usageErrorf("--trust-store: %v", err)
			}
		}
		s, err := truststore.Open(c.String("root"), spec, a.log)
		if err != nil {
			return err
		}
		in.store, in.root = s, c.String("root")
		in.installOpts = truststore.InstallOptions{AllowNonCA: c.Bool("allow-non-ca")}
		rc.reload.Roots = slices.Clone(in.trust)
	}
	domain := acmeFlagName(acmePrefix, "domain")
	if len(c.StringSlice(domain)) == 0 {
		for _, f := range acmeFlags(acmePrefix) {
			if n := f.Names()[0]; n != domain && c.IsSet(n) {
				return usageErrorf("--%s configures --%s: give --%s NAME", n, domain, domain)
			}
		}
		return nil
	}
	for _, f := range []string{"cert", "key", "chain"} {
		if c.IsSet(f) {
			return usageErrorf("--%s and --%s exclude each other: with --%s the pair is --%s's %s and %s",
				f, domain, domain, acmeFlagName(acmePrefix, "out"), acme.FullChainFile, acme.KeyFile)
		}
	}
	if c.Bool("exec") {
		return usageErrorf("--exec leaves nothing running to renew certificates: --%s cannot be used with it (use init for a one-off)", domain)
	}
	cfg, err := acmeConfig(c, acmePrefix)
	if err != nil {
		return err
	}
	cfg.Owner = o
	if in.issuer, err = newIssuer(a, cfg); err != nil {
		return err
	}
	rc.reload.Files = reload.Files{Cert: filepath.Join(cfg.Out, acme.FullChainFile), Key: filepath.Join(cfg.Out, acme.KeyFile)}
	if ca, ok := in.issuer.(*acme.LocalCA); ok {
		// Its leaf chains to the local CA, which exists after Obtain.
		rc.reload.Roots = append(rc.reload.Roots, ca.CAFile())
	}
	return nil
}

// storeRoots are the bundles of what the machine trusts besides the
// --trust files: the store's (written by the install) and, when the store
// is a dir: capath, the OS store's if the image has one. Detecting the OS
// store costs a few file reads, so it is done only when a pair needs it.
func (a *app) storeRoots(root string, s *truststore.Store) []string {
	roots := []string{s.BundlePath()}
	if !strings.HasPrefix(s.Layout().Name, "dir:") {
		return roots
	}
	osStore, err := truststore.Open(root, "auto", a.log)
	if err != nil {
		return roots
	}
	if fi, err := os.Stat(osStore.BundlePath()); err == nil && fi.Mode().IsRegular() {
		roots = append(roots, osStore.BundlePath())
	}
	return roots
}

// waitForPair is the wait step, waiting up to wait. With --trust the chain
// must verify to what the machine trusts after the install: the --trust
// files if they suffice (a private CA), else also the store bundles (a
// public certificate beside a private CA for bridges). Whichever set
// verified the pair at start-up is what later changes must verify to;
// parsing a distribution's bundle on every start and reload costs more
// than the rest of the preparation, so it is read only when needed. The
// usual case, a pair that is there and verifies, takes one load. The chain
// is not waited for: a pair that is there and valid but does not verify is
// a configuration mistake, not a sidecar still writing.
func (a *app) waitForPair(ctx context.Context, rc *runConfig, wait time.Duration) (*reload.Snapshot, error) {
	in, f := &rc.integ, rc.reload.Files
	if in.store == nil {
		return reload.WaitForPair(ctx, f, rc.reload.Roots, wait, a.log)
	}
	if snap, err := reload.Load(f, rc.reload.Roots, time.Now()); err == nil {
		return snap, nil
	}
	if _, err := reload.WaitForPair(ctx, f, nil, wait, a.log); err != nil {
		return nil, err
	}
	snap, err := reload.Load(f, rc.reload.Roots, time.Now())
	if err == nil || in.widened {
		return snap, err
	}
	if in.trustDone != nil {
		<-in.trustDone // the store's bundle as the install leaves it
	}
	extra := a.storeRoots(in.root, in.store)
	wide := slices.Concat(rc.reload.Roots, extra)
	if snap, err = reload.Load(f, wide, time.Now()); err != nil {
		return nil, err
	}
	a.log.Debug("chain verifies to the trust store", "path", f.Cert, "roots", extra)
	rc.reload.Roots, in.widened = wide, true
	return snap, nil
}

// trustStep names the trust install step (see prepareTrustAside).
const trustStep = "trust install"

// integrationSteps are the preparation steps before the pair is loaded:
// trust install, rehash, obtain.
func (a *app) integrationSteps(rc *runConfig) []prepareStep {
	in := &rc.integ
	var steps []prepareStep
	if in.store != nil {
		steps = append(steps, prepareStep{trustStep, func(ctx context.Context) error {
			if in.inputs == nil {
				var err error
				if in.inputs, err = truststore.ReadInputs(in.trust, in.installOpts); err != nil {
					return err
				}
			}
			// What is installed is what was read, so that a change
			// after the read is seen (changedSincePrepare).
			in.trustInstalled = map[string][]byte{}
			for _, p := range in.trust {
				in.trustInstalled[p] = in.inputs.Data(p)
			}
			return a.installTrust(ctx, in)
		}})
	}
	if len(in.rehash) > 0 {
		steps = append(steps, prepareStep{"rehash", func(context.Context) error { return a.rehashDirs(in.rehash) }})
	}
	if in.issuer != nil {
		steps = append(steps, prepareStep{"obtain certificate", func(ctx context.Context) error {
			res, err := in.issuer.Obtain(ctx)
			if err != nil {
				return err
			}
			for _, crt := range res.Certs {
				a.log.Info("certificate", "domain", crt.Names[0], "serial", crt.Serial, "issued", crt.Issued,
					"not_after", crt.NotAfter.UTC().Format(time.RFC3339), "renew_at", crt.RenewAt.UTC().Format(time.RFC3339))
			}
			return nil
		}})
	}
	return steps
}

// installTrust installs every --trust file (Install checks them all before
// it writes: a bad file changes nothing) and then removes the certificates
// that an earlier version of the files brought in and none holds now.
func (a *app) installTrust(ctx context.Context, in *integration) error {
	var rep *truststore.Report
	var err error
	if in.inputs != nil {
		rep, err = in.store.InstallInputs(ctx, in.inputs, in.installOpts)
		in.inputs = nil // a reload reads the files again
	} else {
		rep, err = in.store.Install(ctx, in.trust, in.installOpts)
	}
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
	for fp, ct := range in.installed {
		// A name is a source file: one that still holds a current
		// certificate (a --trust file inside a dir: store) stays.
		if _, ok := now[fp]; !ok && !names[ct.Name] {
			stale = append(stale, ct.Name)
		}
	}
	in.installed = now
	removed := 0
	if len(stale) > 0 {
		slices.Sort(stale)
		stale = slices.Compact(stale)
		rm, err := in.store.Remove(ctx, stale)
		if err != nil {
			// Not a reason to keep the new CA from the server: the old
			// one was removed by hand, or cannot be.
			a.log.Warn("cannot remove a certificate the trust files no longer hold", "names", stale, "err", err)
		} else {
			removed = len(rm.Removed)
		}
	}
	a.log.Info("trust installed", "store", rep.Store, "added", len(rep.Added), "present", len(rep.Present),
		"removed", removed, "bundle", in.store.BundlePath())
	return nil
}

// rehashDirs makes each directory's OpenSSL hash links.
func (a *app) rehashDirs(dirs []string) error {
	for _, d := range dirs {
		res, err := hashlink.Rehash(context.TODO(), d, hashlink.Options{Log: a.log})
		if err != nil {
			return err
		}
		a.log.Info("rehashed", "path", d, "links", len(res.Links), "added", len(res.Added), "removed", len(res.Removed))
	}
	return nil
}

// reloadHooks are run on every good change, after the copy and before the
// reload signal: a changed --trust file is installed again (and every
// --rehash directory rehashed, as the file may live in one); a changed
// --rehash directory is rehashed. Neither runs a program, so neither takes
// rc.reapLock (a hook that does must hold it for reading from Start to
// Wait). Rehashing a watched directory does not trigger itself: the
// watcher ignores hash links.
func (a *app) reloadHooks(rc *runConfig) []reload.Hook {
	in := &rc.integ
	if in.store == nil && len(in.rehash) == 0 {
		return nil
	}
	return []reload.Hook{{Name: "trust store and hash links", Run: func(ctx context.Context, changed []string) error {
		trustChanged := slices.ContainsFunc(in.trust, func(p string) bool { return slices.Contains(changed, p) })
		if trustChanged {
			if err := a.installTrust(ctx, in); err != nil {
				return err
			}
		}
		for _, d := range in.rehash {
			if trustChanged || slices.Contains(changed, d) {
				if err := a.rehashDirs([]string{d}); err != nil {
					return err
				}
			}
		}
		return nil
	}}}
}

// startRenewals runs the issuer's renewal loop until ctx is done; a
// renewal goes through rl.Renewed, the path of a file change (validate,
// copy, hooks, signal).
func (in *integration) startRenewals(ctx context.Context, rl *reload.Reloader) {
	in.issuer.RenewLoop(ctx, func(res *acme.Result) { _ = rl.Renewed(ctx, res.Written) })
}

// prepareTrustAside is prepare with the trust install running beside the
// steps after it, which touch nothing it reads or writes (trustAside): an
// install into a distribution's store reads and writes hundreds of files
// and is most of a container's start-up; the rehash, the pair check and
// the copy need not wait for it. The outcome is the one of running them
// in order: every step is done before COMMAND starts, and the error
// reported is the first failing step's in the order listed. Bad --trust
// input still stops certinit before any step runs (the files are read
// and checked first, and installed as read); a trust install that fails
// later (a read-only or full store) may find the hash links and the copy
// already made, which the next start makes again anyway. The pair check
// waits for the install before it turns to the store's bundle
// (waitForPair).
//
// The install, the longest step, runs on the calling goroutine, so that
// it starts at once; the other steps, which have time to spare, run on a
// new one.
func (a *app) prepareTrustAside(ctx context.Context, rc *runConfig, steps []prepareStep) error {
	in := &rc.integ
	var err error
	if in.inputs, err = truststore.ReadInputs(in.trust, in.installOpts); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in.trustDone = make(chan struct{})
	rest := make(chan error, 1)
	go func() {
		err := a.runSteps(ctx, steps[1:])
		if err == nil && rc.supervised && len(in.rehash) > 0 {
			// The watcher's "before" for the --rehash directories, taken
			// while the install runs: it writes in none of them (trustAside).
			rc.rehashed = watch.Take(in.rehash)
		}
		rest <- err
	}()
	a.log.Debug("prepare", "step", steps[0].name)
	terr := steps[0].run(ctx)
	if terr != nil {
		cancel() // a --wait for the pair stops: the install's error is the one
	}
	close(in.trustDone)
	if err := <-rest; terr == nil {
		return err
	}
	return terr
}

// interruptible returns a context that SIGTERM and SIGINT cancel until
// stop is called: as PID 1 nothing else would stop certinit before the
// supervisor forwards signals. The handler is registered on a goroutine
// (os/signal starts a thread the first time, a millisecond here), which
// is done long before the preparation that uses the context gets far.
func interruptible(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	registered := make(chan func())
	go func() {
		sctx, sstop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		context.AfterFunc(sctx, cancel)
		registered <- sstop
	}()
	return ctx, sync.OnceFunc(func() {
		(<-registered)()
		cancel()
	})
}

// trustAside reports whether the trust install may run beside the later
// preparation steps: not with --acme-domain (obtaining writes where it is
// told and talks to a CA for seconds), and only when no directory the
// install writes in is one the later steps write in or read from: a
// --rehash directory or a directory its links lead into, the directory of
// --cert, --key or --chain, or --copy-to or any directory above it (the
// Debian layout reads its local directory recursively); nor may --copy-to
// hold a --trust file. A rehash does not descend, so a store directory
// inside a --rehash directory is no conflict. Directories are compared
// with symbolic links resolved; any doubt keeps the order.
func (a *app) trustAside(rc *runConfig) bool {
	in := &rc.integ
	if in.store == nil || in.issuer != nil {
		return false
	}
	var written []string
	for _, d := range in.store.WriteDirs() {
		r, ok := realDir(d)
		if !ok {
			return false
		}
		written = append(written, r)
	}
	f := rc.reload.Files
	dirs := slices.Clone(in.rehash)
	for _, d := range in.rehash {
		targets, ok := linkTargetDirs(d)
		if !ok {
			return false
		}
		dirs = append(dirs, targets...)
	}
	for _, p := range []string{f.Cert, f.Key, f.Chain} {
		if p != "" {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	for _, d := range dirs {
		if r, ok := realDir(d); !ok || slices.Contains(written, r) {
			return false
		}
	}
	if rc.reload.CopyTo != "" {
		cp, ok := realDir(rc.reload.CopyTo)
		if !ok || slices.ContainsFunc(written, func(w string) bool { return within(cp, w) }) {
			return false
		}
		for _, t := range in.trust {
			if r, ok := realDir(filepath.Dir(t)); !ok || r == cp {
				return false
			}
		}
	}
	return true
}

// linkTargetDirs returns the directories the symbolic links in dir lead
// into (a capath of links to CA files kept elsewhere); ok is false when
// dir cannot be listed.
func linkTargetDirs(dir string) (targets []string, ok bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, errors.Is(err, os.ErrNotExist) // the rehash step reports it
	}
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		t, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, false
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(dir, t)
		}
		if d := filepath.Dir(t); !slices.Contains(targets, d) && d != filepath.Clean(dir) {
			targets = append(targets, d)
		}
	}
	return targets, true
}

// within reports whether the clean path p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// realDir is d absolute with symbolic links resolved, or as it is when it
// does not exist yet (--copy-to: nothing aliases it); ok is false when it
// cannot be told.
func realDir(d string) (string, bool) {
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", false
	}
	r, err := filepath.EvalSymlinks(abs)
	switch {
	case err == nil:
		return r, true
	case errors.Is(err, os.ErrNotExist):
		return abs, true
	}
	return "", false
}
