package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func (a *app) trustCommand() *cli.Command {
	return &cli.Command{
		Name:  "trust",
		Usage: "install, remove, list or rebuild CA certificates in the OS trust store",
		Action: func(c *cli.Context) error {
			return errors.New("trust: not implemented yet")
		},
	}
}
