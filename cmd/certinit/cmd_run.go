package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func (a *app) runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "prepare certificates and trust, then start, watch and reload COMMAND",
		Action: func(c *cli.Context) error {
			return errors.New("run: not implemented yet")
		},
	}
}

func (a *app) initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "prepare certificates and trust, then exit (init containers)",
		Action: func(c *cli.Context) error {
			return errors.New("init: not implemented yet")
		},
	}
}
