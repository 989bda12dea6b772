package main

import (
	"strconv"
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
			return nil, usageErrorf("%s: no flag %s (certinit %s --help lists them)", c.Command.Name, dashed(name), c.Command.Name)
		}
		if !hasValue {
			if isBool(f) {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				return nil, usageErrorf("%s: %s needs a value", c.Command.Name, dashed(name))
			}
		}
		if err := c.Set(name, value); err != nil {
			return nil, usageErrorf("%s: %s: %v", c.Command.Name, dashed(name), valueReason(strconv.Quote(value), err.Error(), isBool(f)))
		}
	}
	return pos, nil
}

// isBool reports whether f takes no value.
func isBool(f cli.Flag) bool {
	tv, ok := f.(cli.DocGenerationFlag)
	return ok && !tv.TakesValue()
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
