package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/internal/safetext"
	"github.com/certinit/certinit/metrics"
)

// metricsAddrEnv is run's --metrics-addr variable. health falls back to
// it, so that an image that sets it once gets both the listener and a
// HEALTHCHECK that finds it.
var metricsAddrEnv = envName("metrics-addr")

func (a *app) healthCommand() *cli.Command {
	return &cli.Command{
		Name:  "health",
		Usage: "ask a running certinit run --metrics-addr whether it is healthy (or ready); exit 0 or 1",
		Description: "Asks /healthz (or /readyz with --ready) of the listener that run --metrics-addr opened and\n" +
			"prints its one-line answer: exit 0 when it answers 200, 1 otherwise. A Docker HEALTHCHECK for\n" +
			"images without curl. --addr defaults to " + metricsAddrEnv + ", the variable behind run's\n" +
			"--metrics-addr, so an image that sets it needs no flag; a listener on every address (:PORT) is\n" +
			"asked on the loopback address.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "ready", Usage: "ask /readyz (the broker runs and serves a certificate valid for long enough) instead of /healthz"},
			&cli.StringFlag{Name: "addr", Usage: "the listener `ADDR` (host:port) of run --metrics-addr (default: $" + metricsAddrEnv + ")"},
		},
		Action: a.health,
	}
}

func (a *app) health(c *cli.Context) error {
	args, err := positionalArgs(c)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usageErrorf("health: unexpected argument %q (the listener is given with --addr)", args[0])
	}
	addr, from := c.String("addr"), "--addr"
	if !c.IsSet("addr") {
		addr, from = os.Getenv(metricsAddrEnv), metricsAddrEnv
	}
	if addr == "" {
		return usageErrorf("health: no listener to ask: give --addr ADDR or set %s as for run --metrics-addr", metricsAddrEnv)
	}
	if _, err := metrics.DialAddr(addr); err != nil {
		return usageErrorf("health: %s: %v", from, err)
	}
	answer, err := metrics.Check(c.Context, addr, c.Bool("ready"))
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, safetext.Quote(answer)) // the listener's text: kept on its line
	return nil
}
