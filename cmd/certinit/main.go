package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/internal/safetext"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	err := run(context.Background(), os.Args, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// app carries what every command needs: the output streams and the logger
// built from the global flags. Commands are methods on it, one file each.
type app struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	level          slog.LevelVar
	unknownCommand string // set by CommandNotFound (`certinit help NAME`): urfave/cli returns nil then
}

// errVersionShown ends a run after --version printed the version.
var errVersionShown = errors.New("version shown")

// run parses args and runs one command. It never exits; main maps the
// returned error to an exit code with exitCode.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := &app{stdout: stdout, stderr: stderr}
	a.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: &a.level}))
	err := a.newCLI().RunContext(ctx, args)
	switch {
	case errors.Is(err, errVersionShown):
		return nil
	case err == nil && a.unknownCommand != "":
		return usageErrorf("no command %q (certinit --help lists the commands)", a.unknownCommand)
	}
	return err
}

func (a *app) newCLI() *cli.App {
	c := &cli.App{
		Name:  "certinit",
		Usage: "TLS trust, certificates and safe reloads for MQTT brokers in containers",
		Description: "certinit installs CA chains into the OS trust store, maintains OpenSSL hash links,\n" +
			"obtains or watches certificates, and runs the broker as its supervisor, reloading\n" +
			"it only with a certificate/key pair that loads. Every flag also reads CERTINIT_<FLAG>.",
		Version:     version,
		HideVersion: true, // urfave/cli's own --version prints another text; see the version flag
		Writer:      a.stdout,
		ErrWriter:   a.stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "`FORMAT` of log lines: text or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "lowest `LEVEL` logged: debug, info, warn or error"},
			&cli.BoolFlag{Name: "version", Usage: "print what certinit version prints, and exit", DisableDefaultText: true},
		},
		Before: a.before,
		Action: func(c *cli.Context) error { return a.noCommand(c, "") },
		Commands: []*cli.Command{
			a.hashCommand(),
			a.rehashCommand(),
			a.trustCommand(),
			a.acmeCommand(),
			a.runCommand(),
			a.initCommand(),
			a.probeCommand(),
			a.checkCommand(),
			a.embedCommand(),
			a.healthCommand(),
			a.versionCommand(),
		},
		// cli.Exit would call os.Exit inside App.Run and skip our shutdown:
		// errors go back to run, and main alone picks the exit code.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return flagError("", err)
		},
		CommandNotFound: func(_ *cli.Context, name string) {
			a.unknownCommand = name
		},
	}
	addEnvVars(c.Flags)
	for _, cmd := range c.Commands {
		a.setUpCommand(cmd, "")
	}
	return c
}

// noCommand is what certinit, or a command made of subcommands (path:
// "trust"), does without one of its commands: a usage error, after the
// help on standard error when no argument was given at all.
func (a *app) noCommand(c *cli.Context, path string) error {
	prefix, help := "", "certinit --help"
	if path != "" {
		prefix, help = path+": ", "certinit "+path+" --help"
	}
	if c.NArg() > 0 {
		return usageErrorf("%sno command %q (%s lists the commands)", prefix, c.Args().First(), help)
	}
	if path == "" {
		cli.HelpPrinter(a.stderr, cli.AppHelpTemplate, c.App)
	} else {
		cli.HelpPrinter(a.stderr, cli.SubcommandHelpTemplate, c.Command)
	}
	return usageErrorf("%sno command given", prefix)
}

// setUpCommand gives cmd and its subcommands the handler that makes flag
// mistakes usage errors naming the command ("trust install: --store
// ..."), their flags' environment variables and, to a command made of
// subcommands, noCommand. parent is the path of the command above ("" for
// a top-level command).
func (a *app) setUpCommand(cmd *cli.Command, parent string) {
	path := strings.TrimSpace(parent + " " + cmd.Name)
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return flagError(path, err)
	}
	if len(cmd.Subcommands) > 0 && cmd.Action == nil {
		cmd.Action = func(c *cli.Context) error { return a.noCommand(c, path) }
	}
	addEnvVars(cmd.Flags)
	for _, sub := range cmd.Subcommands {
		a.setUpCommand(sub, path)
	}
}

// before runs after the global flags are parsed: --version ends the run,
// the log flags build the logger.
func (a *app) before(c *cli.Context) error {
	if c.Bool("version") {
		a.printVersion()
		return errVersionShown
	}
	return a.setupLogging(c)
}

func (a *app) setupLogging(c *cli.Context) error {
	switch strings.ToLower(c.String("log-level")) {
	case "debug":
		a.level.Set(slog.LevelDebug)
	case "info", "":
		a.level.Set(slog.LevelInfo)
	case "warn", "warning":
		a.level.Set(slog.LevelWarn)
	case "error":
		a.level.Set(slog.LevelError)
	default:
		return usageErrorf("--log-level must be debug, info, warn or error, not %q", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: &a.level}
	switch strings.ToLower(c.String("log-format")) {
	case "text", "":
		a.log = slog.New(slog.NewTextHandler(a.stderr, opts))
	case "json":
		a.log = slog.New(slog.NewJSONHandler(a.stderr, opts))
	default:
		return usageErrorf("--log-format must be text or json, not %q", c.String("log-format"))
	}
	return nil
}

func (a *app) versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print certinit's version",
		Action: func(c *cli.Context) error {
			a.printVersion()
			return nil
		},
	}
}

func (a *app) printVersion() { fmt.Fprintf(a.stdout, "certinit %s\n", version) }

// envName is the environment variable that backs a flag.
func envName(flag string) string {
	return "CERTINIT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// addEnvVars gives every flag its CERTINIT_<FLAG> variable, so no command
// can forget it. TestEveryFlagHasEnvVar fails for a flag type missing here.
// --version has none: it is not configuration, and an image that sets
// CERTINIT_VERSION to its own version string must not break every command.
func addEnvVars(flags []cli.Flag) {
	for _, f := range flags {
		if hasNoEnvVar(f) {
			continue
		}
		env := []string{envName(f.Names()[0])}
		switch f := f.(type) {
		case *cli.StringFlag:
			f.EnvVars = env
		case *cli.BoolFlag:
			f.EnvVars = env
		case *cli.GenericFlag:
			f.EnvVars = env
		case *cli.StringSliceFlag:
			f.EnvVars = env
		}
	}
}

// hasNoEnvVar reports whether f is one of the flags without a variable.
func hasNoEnvVar(f cli.Flag) bool { return f.Names()[0] == "version" }

// printError writes err as certinit's error lines: one line per problem
// (each error that errors.Join put together gets its own, as rehash of
// several directories or trust install of several files report them),
// each prefixed "certinit: " once and escaped (safetext.Quote), so that a
// file or certificate name can neither break a line nor forge one.
func printError(w io.Writer, err error) {
	for _, e := range problems(err) {
		fmt.Fprintf(w, "certinit: %s\n", safetext.Quote(e.Error()))
	}
}

// problems splits an error made by errors.Join (whose text is its errors'
// texts, one per line) into those errors, recursively. Any other error,
// one that wraps several with context (fmt.Errorf with two %w) included,
// is one problem.
func problems(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	errs := j.Unwrap()
	texts := make([]string, len(errs))
	for i, e := range errs {
		texts[i] = e.Error()
	}
	if err.Error() != strings.Join(texts, "\n") {
		return []error{err}
	}
	var out []error
	for _, e := range errs {
		out = append(out, problems(e)...)
	}
	return out
}

// usageError is a mistake in how certinit was called: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError carries a specific exit code (run passes its child's through).
// A silent exitError prints nothing: the problem was already logged.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode maps run's error to the process exit code and prints it
// (printError): 0 success, 1 failure, 2 usage error, or the code an
// exitError carries.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.silent && ee.err != nil {
			printError(stderr, ee.err)
		}
		return ee.code
	}
	printError(stderr, err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
