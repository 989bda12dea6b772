// Command certinit makes TLS trust work in containers that run an MQTT broker.
//
// Usage:
//
//	certinit [--log-format text|json] [--log-level LEVEL] COMMAND [OPTIONS] [ARGS]
//	certinit --version
//
// Commands: hash, rehash, trust, acme, run, init, probe, check, embed, health, version.
// Without a command certinit prints its help to standard error and exits 2.
// `certinit COMMAND --help` lists every option of a command. Every flag also
// reads the environment variable CERTINIT_<FLAG> (upper case, "-" becomes
// "_"), so a Dockerfile or Kubernetes manifest configures certinit without a
// shell: --log-format is CERTINIT_LOG_FORMAT, --copy-to is CERTINIT_COPY_TO.
//
// Exit codes: 0 success, 1 the operation failed or found a problem, 2 usage
// error; `run` exits with its child's code (128+N when a signal N killed it).
// Every error is one line on standard error, prefixed "certinit: ". The flag
// conventions (placeholders, durations, owner ids, usage errors) are in
// flags.go and docs/conventions.md.
//
// main only calls run and maps its error to an exit code. This package is
// flag parsing and wiring, not where work is done: that happens in the
// packages hashlink, truststore, acme, runner (run and init), supervisor,
// watch and probe. The full reference of flags and environment variables
// is docs/reference.md, produced from --help by scripts/gen-reference.sh.
package main
