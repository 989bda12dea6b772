// Package runner is what `certinit run` and `certinit init` do: prepare
// (install --trust files into the trust store, rehash --rehash directories,
// obtain a certificate in-process, wait for the pair to be valid, copy it
// where the server's user can read it), then, for run, start COMMAND as a
// supervised child and keep it in step with changes: watch, validate, copy,
// reload, restart or leave it alone as the broker's configuration says the
// change needs (rules.go), and renew in-process certificates; and restart
// a broker that no longer answers its clients (liveness.go).
//
// The caller (the command line) turns its flags into a Config, which this
// package never modifies; what a run learns on the way (the checked pair,
// the trust files as installed, the issuer) lives in a separate state.
//
// It does not parse flags, print or exit: errors are returned for the caller
// to report, and every decision is logged to the *slog.Logger passed in. The
// work itself is done by truststore, hashlink, acme, reload, watch and
// supervisor.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/metrics"
	"github.com/certinit/certinit/mosquittoconf"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/supervisor"
	"github.com/certinit/certinit/truststore"
)

// Config is what run and init were told. Each field is the value of the
// command-line option named beside it; error messages name the options.
type Config struct {
	Cert, Key, Chain string        // --cert, --key, --chain: the pair (with ACME: empty)
	Wait             time.Duration // --wait: how long the pair may take to be valid
	CopyTo           string        // --copy-to: copy the pair here, keeping file names
	Owner            *owner.Owner  // --owner: owner of the copies and of the ACME output

	Trust      []string     // --trust: CA files to install into the trust store
	TrustStore string       // --trust-store: "auto" (or ""), a layout name or "dir:PATH"
	Root       string       // --root: the OS tree the trust store belongs to ("": "/")
	AllowNonCA bool         // --allow-non-ca
	Rehash     []string     // --rehash: directories to keep OpenSSL hash links in
	ACME       *acme.Config // --acme-*: obtain and renew in-process; nil: no; Owner applies to it

	AllowPartialChain bool // --allow-partial-chain: install --trust CAs whose root is not in the store

	// Run only. With Exec nothing is left running to watch, signal or
	// renew: the fields after it do not apply, and ACME is obtained once.
	Command     []string       // COMMAND and its arguments
	Exec        bool           // --exec: replace certinit with COMMAND after preparing
	Watch       []string       // --watch: more paths whose change reloads
	RestartOn   []string       // --restart-on: paths whose change restarts COMMAND
	Signal      syscall.Signal // --reload-signal; zero: SIGHUP
	Debounce    time.Duration  // --debounce: quiet period for the paths besides the pair; zero: none
	Settle      time.Duration  // --settle: how long a failing pair waits for more changes; zero: not at all
	Poll        time.Duration  // --poll: backstop rescan interval; zero: none
	StopTimeout time.Duration  // --stop-timeout; zero: the supervisor's default
	// MosquittoConf is --mosquitto-conf: the broker's configuration, which
	// decides what a change needs (rules.go) and where the liveness check
	// asks (liveness.go); empty: the -c file on COMMAND's line when
	// COMMAND is mosquitto.
	MosquittoConf    string
	Liveness         Liveness      // --liveness-*
	MetricsAddr      string        // --metrics-addr: serve metrics and health endpoints here; "": no listener
	ReadyMinValidity time.Duration // --ready-min-validity: /readyz wants the served certificate valid this much longer
	Version          string        // certinit's version, for the metrics
}

// Check reports mistakes in how the options combine, for the command
// line's usage errors. Init and Run check too.
func (c Config) Check() error {
	if c.ACME != nil {
		for _, o := range []struct{ flag, value string }{{"cert", c.Cert}, {"key", c.Key}, {"chain", c.Chain}} {
			if o.value != "" {
				return fmt.Errorf("--%s and --acme-domain exclude each other: with --acme-domain the pair is --acme-out's %s and %s",
					o.flag, acme.FullChainFile, acme.KeyFile)
			}
		}
	}
	if err := c.Liveness.check(); err != nil {
		return err
	}
	rc := reload.Config{Files: c.pair(), CopyTo: c.CopyTo, Owner: c.copyOwner()}
	return rc.Check()
}

// pair names the certificate files the server loads: --cert, --key and
// --chain, or the ACME output.
func (c Config) pair() reload.Files {
	if c.ACME != nil {
		return reload.Files{Cert: filepath.Join(c.ACME.Out, acme.FullChainFile), Key: filepath.Join(c.ACME.Out, acme.KeyFile)}
	}
	return reload.Files{Cert: c.Cert, Key: c.Key, Chain: c.Chain}
}

// copyOwner is the owner of the copies. --owner needs something to own:
// without ACME output it must have copies (reload.Config.Check says so).
func (c Config) copyOwner() *owner.Owner {
	if c.CopyTo == "" && c.ACME != nil {
		return nil
	}
	return c.Owner
}

// state is what one run or init learns and keeps on the way; its Config
// stays as given.
type state struct {
	cfg    Config
	log    *slog.Logger
	files  reload.Files      // the pair (Config.pair)
	store  *truststore.Store // nil without --trust
	issuer acme.Issuer       // nil without ACME

	// roots are the CA files the pair must verify to (none: the chain is
	// not checked); widened is set once the trust store's bundles joined
	// them (waitForPair).
	roots   []string
	widened bool

	snap *reload.Snapshot // the pair as the preparation checked (and copied) it
	// trustRead holds the --trust files as read for the preparation's
	// install, to catch a change before the watcher's baseline.
	trustRead map[string][]byte
	// installed holds, by fingerprint, the locally installed certificates
	// the --trust files put (or found) in the store at their last install,
	// so a certificate a changed --trust file no longer holds is removed.
	installed map[string]truststore.Cert

	// broker is the broker's configuration (run only; nil without one):
	// rules decide from it what a change needs, live checks that the
	// broker answers, and the metrics read what its listeners serve.
	broker *mosquittoconf.Config
	rules  *brokerRules
	live   *livenessCheck

	// reapLock is held by the supervisor's reaper; a reload hook or a
	// DNS-01 hook that runs a program while COMMAND runs holds it for
	// reading from Start to Wait.
	reapLock sync.RWMutex

	mon    *metrics.Monitor // run with --metrics-addr only: what the metrics and health endpoints report
	expiry *metrics.Expiry  // run only: the expiry warnings in the log
}

// newState checks cfg and opens what it names: the trust store and the
// issuer. Nothing is written yet.
func newState(cfg Config, log *slog.Logger) (*state, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &state{cfg: cfg, log: log, files: cfg.pair()}
	if len(cfg.Trust) > 0 {
		store, err := truststore.Open(cfg.Root, cfg.TrustStore, log)
		if err != nil {
			return nil, err
		}
		s.store, s.roots = store, slices.Clone(cfg.Trust)
	}
	if cfg.ACME != nil {
		ac := *cfg.ACME
		ac.Owner = cfg.Owner
		// A DNS hook runs its program while COMMAND may run.
		ac.ReapLock = &s.reapLock
		ac.Report = s.reportRenewal
		iss, err := acme.New(ac, log)
		if err != nil {
			return nil, err // errors.Is(err, acme.ErrConfig): a usage error
		}
		s.issuer = iss
		if ca, ok := iss.(*acme.LocalCA); ok {
			// Its leaf chains to the local CA, which exists after Obtain.
			s.roots = append(s.roots, ca.CAFile())
		}
	}
	return s, nil
}

// Init prepares (see the package comment) and returns. The first step that
// fails stops it; its error names the file at fault.
func Init(ctx context.Context, cfg Config, log *slog.Logger) error {
	s, err := newState(cfg, log)
	if err != nil {
		return err
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	s.log.Info("prepared")
	return nil
}

// Run prepares, then runs cfg.Command: supervised, watched and reloaded
// until it exits for good, or, with cfg.Exec, in place of this process.
// stdio is COMMAND's stdin, stdout and stderr (nil: this process's own).
//
// It returns COMMAND's exit code (128+N when signal N killed it). The error
// is not nil when preparing failed or COMMAND could not start; a
// *supervisor.StartError then carries the code a shell gives (127 not
// found, 126 not executable). COMMAND is looked up before anything is
// prepared, so a typo has no side effects.
func Run(ctx context.Context, cfg Config, log *slog.Logger, stdio []*os.File) (int, error) {
	if len(cfg.Command) == 0 {
		return 0, errors.New("no COMMAND to run")
	}
	s, err := newState(cfg, log)
	if err != nil {
		return 0, err
	}
	if cfg.Exec {
		if _, err := supervisor.LookPath(cfg.Command[0]); err != nil {
			return 0, err
		}
		if err := s.prepare(ctx); err != nil {
			return 0, err
		}
		s.log.Debug("exec", "command", cfg.Command[0])
		return 0, supervisor.Exec(cfg.Command, nil)
	}
	sup, err := supervisor.New(supervisor.Options{Args: cfg.Command, Files: stdio, StopTimeout: cfg.StopTimeout,
		ReapLock: &s.reapLock, Log: s.log})
	if err != nil {
		return 0, err
	}
	if err := s.watchBroker(); err != nil {
		return 0, err
	}
	// The listener is up before the preparation, so that a liveness probe
	// finds certinit healthy while it waits for its certificate.
	s.mon = s.newMonitor()
	srv, err := metrics.Start(cfg.MetricsAddr, s.mon)
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	if err := s.prepare(ctx); err != nil {
		return 0, err
	}
	return s.supervise(ctx, sup)
}
