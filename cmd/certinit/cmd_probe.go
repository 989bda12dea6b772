package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/probe"
)

func (a *app) probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "connect to a TLS endpoint and say why it fails",
		ArgsUsage: "HOST[:PORT]",
		Description: "Connects (port 8883 unless given), records the handshake, verifies the server's\n" +
			"certificates as OpenSSL does for Mosquitto and its clients (the chain must reach a\n" +
			"self-signed root in --cafile/--capath or the system store; purpose TLS server), says\n" +
			"what fails and which certificate is missing (and when --cert lacks clientAuth usage),\n" +
			"and ends with `verdict: CODE` (ok, unknown-authority, self-signed, incomplete-chain,\n" +
			"expired, not-yet-valid, hostname-mismatch, client-cert-required, handshake-failure,\n" +
			"connect-failure, mqtt-refused). Exit 0 for ok, 1 otherwise.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "servername", Usage: "server `NAME` to send (SNI) and verify (default: HOST)"},
			&cli.StringFlag{Name: "cafile", Usage: "trust the CA certificates in `FILE` (instead of the system store)"},
			&cli.StringFlag{Name: "capath", Usage: "trust the OpenSSL hash `DIR` (instead of the system store)"},
			&cli.StringFlag{Name: "cert", Usage: "client certificate `FILE`"},
			&cli.StringFlag{Name: "key", Usage: "client key `FILE`"},
			&cli.BoolFlag{Name: "mqtt", Usage: "after TLS, send an MQTT 3.1.1 CONNECT and read the CONNACK"},
			&cli.StringFlag{Name: "mqtt-user", Usage: "MQTT `USER` name for --mqtt"},
			&cli.StringFlag{Name: "mqtt-password", Usage: "MQTT `PASSWORD` for --mqtt (prefer CERTINIT_MQTT_PASSWORD)"},
			&cli.StringFlag{Name: "save", Usage: "keep the chain up to its root in `DIR`, a dir: trust store (a file each, hash links), for --capath DIR"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object"},
			durationFlag("timeout", probe.DefaultTimeout, "`DURATION` the whole probe may take", ""),
			&cli.BoolFlag{Name: "offline", Usage: "do not fetch a missing issuer from the certificate's AIA URL"},
		},
		Action: a.probe,
	}
}

func (a *app) probe(c *cli.Context) error {
	args, err := positionalArgs(c)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usageErrorf("probe: want exactly one HOST[:PORT], got %d arguments", len(args))
	}
	if c.String("mqtt-password") != "" && c.String("mqtt-user") == "" {
		return usageErrorf("probe: --mqtt-password needs --mqtt-user")
	}
	rep, err := probe.Probe(c.Context, probe.Options{
		Address:      args[0],
		ServerName:   c.String("servername"),
		CAFile:       c.String("cafile"),
		CAPath:       c.String("capath"),
		CertFile:     c.String("cert"),
		KeyFile:      c.String("key"),
		MQTT:         c.Bool("mqtt"),
		MQTTUser:     c.String("mqtt-user"),
		MQTTPassword: c.String("mqtt-password"),
		SaveDir:      c.String("save"),
		Timeout:      durationOf(c, "timeout"),
		Offline:      c.Bool("offline"),
		Log:          a.log,
	})
	if rep != nil {
		var werr error
		if c.Bool("json") {
			werr = rep.WriteJSON(a.stdout)
		} else {
			werr = rep.WriteText(a.stdout)
		}
		if werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if rep.Verdict != probe.VerdictOK {
		return &exitError{code: 1, silent: true}
	}
	return nil
}

func (a *app) checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check local certificate files and a mosquitto.conf",
		Description: "A health check for Docker HEALTHCHECK, Kubernetes probes and CI: --cert/--key (parse,\n" +
			"match, valid for at least --min-validity, chain against --cafile/--capath as OpenSSL\n" +
			"verifies it), and every certfile, keyfile, cafile, capath and bridge_* file a\n" +
			"--mosquitto-conf names (exists, readable by the broker's user, pairs match, nothing\n" +
			"expired, every trusted CA chains to a self-signed root, hash links current, bundles\n" +
			"split, bridge certificates allow clientAuth). Prints one FILE[:LINE]: problem line\n" +
			"each and exits 1 if there is any, else prints ok.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cert", Usage: "certificate `FILE` (leaf first, then intermediates)"},
			&cli.StringFlag{Name: "key", Usage: "private key `FILE` of --cert"},
			&cli.StringFlag{Name: "cafile", Usage: "verify --cert against the CA certificates in `FILE`"},
			&cli.StringFlag{Name: "capath", Usage: "verify --cert against the OpenSSL hash `DIR` (and check its links)"},
			durationFlag("min-validity", 0, "report a certificate that expires within `DURATION` (e.g. 30d)", "reports only certificates not valid now"),
			&cli.StringFlag{Name: "mosquitto-conf", Usage: "check every TLS file and option of this mosquitto.conf `FILE`"},
		},
		Action: a.check,
	}
}

func (a *app) check(c *cli.Context) error {
	args, err := positionalArgs(c)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usageErrorf("check: unexpected argument %q (files are given with --cert, --key, --cafile, --capath, --mosquitto-conf)", args[0])
	}
	opts := probe.CheckOptions{
		CertFile:      c.String("cert"),
		KeyFile:       c.String("key"),
		CAFile:        c.String("cafile"),
		CAPath:        c.String("capath"),
		MinValidity:   durationOf(c, "min-validity"),
		MosquittoConf: c.String("mosquitto-conf"),
		Log:           a.log,
	}
	if opts.CertFile == "" && opts.KeyFile == "" && opts.CAFile == "" && opts.CAPath == "" && opts.MosquittoConf == "" {
		return usageErrorf("check: nothing to check: give --cert/--key, --cafile/--capath or --mosquitto-conf")
	}
	if opts.KeyFile != "" && opts.CertFile == "" {
		return usageErrorf("check: --key needs --cert")
	}
	problems, err := probe.Check(opts)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(a.stdout, p.String())
	}
	if len(problems) > 0 {
		return &exitError{code: 1, silent: true}
	}
	fmt.Fprintln(a.stdout, "ok")
	return nil
}
