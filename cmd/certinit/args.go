package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// positionalArgs returns a command's positional arguments, applying flags
// that follow them. urfave/cli v2 stops reading flags at the first
// positional argument, but the documented forms put flags after it
// (`certinit probe HOST --cafile F`, `certinit embed FILE --name X`).
// "--" ends flag reading.
func positionalArgs(c *cli.Context) ([]string, error) {
	var pos []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if len(arg) < 2 || arg[0] != '-' {
			pos = append(pos, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		f := findFlag(c.Command.Flags, name)
		if f == nil {
			return nil, usageErrorf("%s: flag provided but not defined: %s", c.Command.Name, arg)
		}
		if !hasValue {
			if tv, ok := f.(cli.DocGenerationFlag); ok && !tv.TakesValue() {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				return nil, usageErrorf("%s: flag needs an argument: %s", c.Command.Name, arg)
			}
		}
		if err := c.Set(name, value); err != nil {
			return nil, usageErrorf("%s: invalid value %q for flag %s: %v", c.Command.Name, value, arg, err)
		}
	}
	return pos, nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}
