package main

import (
	"errors"
	"io"
	"os"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/metrics"
	"github.com/certinit/certinit/reload"
	"github.com/certinit/certinit/runner"
	"github.com/certinit/certinit/supervisor"
	"github.com/certinit/certinit/watch"
)

func (a *app) runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "prepare certificates and trust, then start, watch and reload COMMAND",
		ArgsUsage: "-- COMMAND [ARGS...]",
		Description: "Prepares (installs --trust files into the trust store, rehashes --rehash directories,\n" +
			"obtains a certificate with --acme-domain, waits for --cert/--key to be a valid pair, copies\n" +
			"them to --copy-to owned by --owner), then starts COMMAND as its supervisor: forwards signals,\n" +
			"reaps zombies as PID 1, exits with COMMAND's code. It watches the certificate files, --trust\n" +
			"files, --rehash directories, --watch and --restart-on paths, and renews --acme-domain\n" +
			"certificates. The pair is checked at every event: once it loads as a valid pair that differs\n" +
			"from the one served, certinit copies it, re-installs trust and rehashes as needed and sends\n" +
			"--reload-signal, or restarts COMMAND when a --restart-on file changed. The other paths are\n" +
			"acted on after --debounce of quiet. A pair that stays invalid for --settle is refused and\n" +
			"logged; the server keeps its last good certificate. With a Mosquitto configuration\n" +
			"(--mosquitto-conf, or mosquitto -c FILE as COMMAND) certinit also watches the TLS files it\n" +
			"names and decides per file: the signal for certfile, keyfile and crlfile, a restart for a\n" +
			"listener's cafile or a CA removed from its capath, nothing for a CA added to a capath or a\n" +
			"bridge's files. It checks every --liveness-interval that the broker answers an MQTT CONNECT\n" +
			"and restarts it after --liveness-threshold missed checks. --metrics-addr serves Prometheus\n" +
			"metrics (/metrics) and the health endpoints /healthz and /readyz; the log warns about a\n" +
			"certificate near its end either way. --exec replaces certinit with COMMAND instead.",
		Flags: append(prepareFlags(),
			&cli.StringSliceFlag{Name: "watch", Usage: "also watch `PATH` (file or directory); a change reloads (repeatable)"},
			&cli.StringFlag{Name: "reload-signal", Value: "HUP", Usage: "`SIG` that makes COMMAND reload its certificates (HUP, USR1, USR2, INT, QUIT, TERM, WINCH, ALRM)"},
			&cli.StringSliceFlag{Name: "restart-on", Usage: "restart COMMAND instead of signalling when `PATH` changes (repeatable)"},
			durationFlag("debounce", watch.DefaultDebounce, "quiet `DURATION` after an event before acting on --trust files, --rehash directories, --watch and --restart-on paths (the pair is checked at every event)", "acts at every event"),
			durationFlag("settle", reload.DefaultSettle, "refuse a pair that fails its checks only when it still does `DURATION` later (a renewal half done gets that long to complete)", "refuses it at the first failing check"),
			durationFlag("poll", watch.DefaultPoll, "rescan every `DURATION` even without events", "turns the rescan off"),
			durationFlag("stop-timeout", supervisor.DefaultStopTimeout, "`DURATION` COMMAND gets after SIGTERM/SIGINT before SIGKILL", ""),
			&cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus metrics (/metrics), /healthz and /readyz on `ADDR` (host:port, e.g. :9464); off when not given"},
			durationFlag("ready-min-validity", 0, "/readyz fails, and the log warns, when the served certificate expires within `DURATION`", "needs it valid now"),
			&cli.BoolFlag{Name: "exec", Usage: "after preparing, replace certinit with COMMAND (nothing is watched)"},
			&cli.StringFlag{Name: "mosquitto-conf", Usage: "the broker's mosquitto.conf `FILE`: decides whether a change gets the reload signal, a restart or nothing, adds the TLS files it names to the watched paths, and names the listeners asked for the certificate they serve (default: the -c file when COMMAND is mosquitto)"},
			durationFlag("liveness-interval", runner.DefaultLivenessInterval, "check every `DURATION` that the broker answers an MQTT CONNECT on its listener", "turns the check off"),
			countFlag("liveness-threshold", runner.DefaultLivenessThreshold, "restart the broker after `N` missed liveness checks in a row"),
			durationFlag("liveness-timeout", runner.DefaultLivenessTimeout, "`DURATION` one liveness check waits for the broker's answer", ""),
			&cli.StringFlag{Name: "liveness-addr", Usage: "listener `ADDR` (host:port) the liveness check asks (default: one from --mosquitto-conf)"},
		),
		Action: a.runAction,
	}
}

func (a *app) initCommand() *cli.Command {
	return &cli.Command{
		Name:        "init",
		Usage:       "prepare certificates and trust, then exit (init containers)",
		Description: "Does what run does before starting COMMAND, then exits 0.",
		Flags:       prepareFlags(),
		Action:      a.initAction,
	}
}

// prepareFlags are the flags run and init share: the pair, the trust
// store, hash links and the in-process certificate (acme obtain's options
// prefixed acme-; --owner is shared with --copy-to).
func prepareFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "cert", Usage: "certificate `FILE` (leaf first, chain may follow) the server loads"},
		&cli.StringFlag{Name: "key", Usage: "private key `FILE` of --cert"},
		&cli.StringFlag{Name: "chain", Usage: "separate chain `FILE` (certbot's chain.pem), checked, watched and copied with the pair"},
		durationFlag("wait", 0, "wait up to `DURATION` for --cert and --key to exist and be a valid pair", "checks once, without waiting"),
		&cli.StringFlag{Name: "copy-to", Usage: "copy the pair (and chain) into `DIR`, keeping their file names"},
		ownerFlag("owner", "the --copy-to copies and the --acme-out files"),
		&cli.StringSliceFlag{Name: "trust", Usage: "install CA certificate `FILE` into the trust store before starting, again when it changes (repeatable)"},
		&cli.StringFlag{Name: "trust-store", Value: "auto", Usage: "`STORE` --trust goes to: auto, debian, alpine, rhel, suse, arch or dir:PATH (a capath; PATH inside --root)"},
		&cli.StringFlag{Name: "root", Value: "/", Usage: "`DIR` holding the OS tree of the trust store"},
		&cli.BoolFlag{Name: "allow-non-ca", Usage: "also accept --trust certificates that are neither CA certificates nor self-signed"},
		&cli.BoolFlag{Name: "allow-partial-chain", Usage: "also install --trust CAs that do not chain to a self-signed root in the store (OpenSSL clients will not trust what they issued)"},
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

// initAction is init: prepare, then exit.
func (a *app) initAction(c *cli.Context) error {
	if c.Args().Present() {
		return usageErrorf("init takes no COMMAND (use run)")
	}
	cfg, err := prepareConfig(c)
	if err != nil {
		return err
	}
	if err := checkConfig(c, cfg); err != nil {
		return err
	}
	return runnerError(c, runner.Init(c.Context, cfg, a.log))
}

// runAction is run: prepare, then run COMMAND; certinit exits with its
// code.
func (a *app) runAction(c *cli.Context) error {
	cfg, err := prepareConfig(c)
	if err != nil {
		return err
	}
	if cfg.Command = c.Args().Slice(); len(cfg.Command) == 0 {
		return usageErrorf("run needs a COMMAND: certinit run [OPTIONS] -- COMMAND [ARGS...]")
	}
	if cfg.Signal, err = supervisor.ParseSignal(c.String("reload-signal")); err != nil {
		return usageErrorf("--reload-signal: %v", err)
	}
	cfg.Watch, cfg.RestartOn = c.StringSlice("watch"), c.StringSlice("restart-on")
	cfg.Debounce, cfg.Settle = durationOf(c, "debounce"), durationOf(c, "settle")
	cfg.Poll, cfg.StopTimeout = durationOf(c, "poll"), durationOf(c, "stop-timeout")
	cfg.MosquittoConf = c.String("mosquitto-conf")
	cfg.Liveness = runner.Liveness{Interval: durationOf(c, "liveness-interval"), Threshold: countOf(c, "liveness-threshold"),
		Timeout: durationOf(c, "liveness-timeout"), Addr: c.String("liveness-addr")}
	if cfg.Liveness.Interval == 0 {
		for _, f := range []string{"liveness-threshold", "liveness-timeout", "liveness-addr"} {
			if c.IsSet(f) {
				return usageErrorf("--%s configures the liveness check, which --liveness-interval 0 turns off", f)
			}
		}
	}
	cfg.MetricsAddr = c.String("metrics-addr")
	cfg.ReadyMinValidity, cfg.Version = durationOf(c, "ready-min-validity"), version
	if cfg.MetricsAddr != "" {
		if _, err := metrics.DialAddr(cfg.MetricsAddr); err != nil {
			return usageErrorf("--metrics-addr: %v", err)
		}
	}
	if err := checkConfig(c, cfg); err != nil {
		return err
	}
	if cfg.Exec = c.Bool("exec"); cfg.Exec {
		if cfg.ACME != nil {
			return usageErrorf("--exec leaves nothing running to renew certificates: --%s cannot be used with it (use init for a one-off)",
				acmeFlagName(acmePrefix, "domain"))
		}
		for _, f := range []string{"watch", "restart-on", "reload-signal", "debounce", "settle", "poll", "stop-timeout",
			"mosquitto-conf", "liveness-interval", "liveness-threshold", "liveness-timeout", "liveness-addr",
			"metrics-addr", "ready-min-validity"} {
			if c.IsSet(f) {
				return usageErrorf("--exec leaves nothing running to watch or signal: --%s cannot be used with it", f)
			}
		}
	}
	files, closeFiles := a.childFiles()
	defer closeFiles()
	code, err := runner.Run(c.Context, cfg, a.log, files)
	if err != nil {
		return runnerError(c, err)
	}
	if code != 0 {
		return &exitError{code: code, silent: true}
	}
	return nil
}

// prepareConfig turns the flags run and init share into a runner.Config,
// not yet checked (checkConfig).
func prepareConfig(c *cli.Context) (runner.Config, error) {
	cfg := runner.Config{
		Cert: c.String("cert"), Key: c.String("key"), Chain: c.String("chain"),
		Wait: durationOf(c, "wait"), CopyTo: c.String("copy-to"),
		Trust: c.StringSlice("trust"), TrustStore: c.String("trust-store"), Root: c.String("root"),
		AllowNonCA: c.Bool("allow-non-ca"), AllowPartialChain: c.Bool("allow-partial-chain"), Rehash: c.StringSlice("rehash"),
	}
	var err error
	if cfg.Owner, err = parseOwnerFlag(c, "owner"); err != nil {
		return cfg, err
	}
	if len(cfg.Trust) == 0 {
		for _, f := range []string{"trust-store", "root", "allow-non-ca", "allow-partial-chain"} {
			if c.IsSet(f) {
				return cfg, usageErrorf("--%s applies to --trust files: give --trust FILE", f)
			}
		}
	} else if err := checkStoreSpec("--trust-store", cfg.TrustStore, cfg.Root); err != nil {
		return cfg, err
	}
	domain := acmeFlagName(acmePrefix, "domain")
	if len(c.StringSlice(domain)) == 0 {
		for _, f := range acmeFlags(acmePrefix) {
			if n := f.Names()[0]; n != domain && c.IsSet(n) {
				return cfg, usageErrorf("--%s configures --%s: give --%s NAME", n, domain, domain)
			}
		}
	} else {
		ac, err := acmeConfig(c, acmePrefix)
		if err != nil {
			return cfg, err
		}
		cfg.ACME = &ac
	}
	return cfg, nil
}

// checkConfig is runner.Config.Check of the finished configuration (run
// adds its own options to prepareConfig's), its mistakes usage errors
// naming the command. The runner checks again, for callers other than
// the command line.
func checkConfig(c *cli.Context, cfg runner.Config) error {
	if err := cfg.Check(); err != nil {
		return usageErrorf("%s: %v", c.Command.Name, err)
	}
	return nil
}

// runnerError maps the runner's errors to exit codes: a configuration
// mistake the issuer found is a usage error naming the flag, a COMMAND
// that cannot start exits as a shell would (127, 126).
func runnerError(c *cli.Context, err error) error {
	var se *supervisor.StartError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, acme.ErrConfig):
		return acmeUsageError(c.Command.Name, acmePrefix, err)
	case errors.As(err, &se):
		return &exitError{code: se.Code, err: err}
	}
	return err
}

// childFiles are COMMAND's stdin, stdout and stderr: certinit's own when
// they are files (always, from main); otherwise (run called in-process by
// tests) pipes copied into the writers. The returned func ends the copies.
func (a *app) childFiles() ([]*os.File, func()) {
	files := []*os.File{os.Stdin}
	var wg sync.WaitGroup
	var closers []*os.File
	for _, w := range []io.Writer{a.stdout, a.stderr} {
		if f, ok := w.(*os.File); ok {
			files = append(files, f)
			continue
		}
		r, pw, err := os.Pipe()
		if err != nil {
			files = append(files, os.Stderr)
			continue
		}
		files = append(files, pw)
		closers = append(closers, pw)
		wg.Go(func() {
			_, _ = io.Copy(w, r)
			r.Close()
		})
	}
	return files, func() {
		for _, f := range closers {
			f.Close()
		}
		wg.Wait()
	}
}
