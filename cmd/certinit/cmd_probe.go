package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func (a *app) probeCommand() *cli.Command {
	return &cli.Command{
		Name:  "probe",
		Usage: "connect to a TLS endpoint and say why it fails",
		Action: func(c *cli.Context) error {
			return errors.New("probe: not implemented yet")
		},
	}
}

func (a *app) checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check local certificate files and a mosquitto.conf",
		Action: func(c *cli.Context) error {
			return errors.New("check: not implemented yet")
		},
	}
}

func (a *app) embedCommand() *cli.Command {
	return &cli.Command{
		Name:  "embed",
		Usage: "write a certificate as C source for mbedTLS",
		Action: func(c *cli.Context) error {
			return errors.New("embed: not implemented yet")
		},
	}
}
