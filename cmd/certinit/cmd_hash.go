package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func (a *app) hashCommand() *cli.Command {
	return &cli.Command{
		Name:  "hash",
		Usage: "print the OpenSSL subject hash of certificates (issuer hash of CRLs)",
		Action: func(c *cli.Context) error {
			return errors.New("hash: not implemented yet")
		},
	}
}

func (a *app) rehashCommand() *cli.Command {
	return &cli.Command{
		Name:  "rehash",
		Usage: "create OpenSSL hash links in directories, as openssl rehash does",
		Action: func(c *cli.Context) error {
			return errors.New("rehash: not implemented yet")
		},
	}
}
