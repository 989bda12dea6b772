package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func (a *app) acmeCommand() *cli.Command {
	return &cli.Command{
		Name:  "acme",
		Usage: "obtain certificates from an ACME CA or the local issuer",
		Action: func(c *cli.Context) error {
			return errors.New("acme: not implemented yet")
		},
	}
}
