package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/certinit/certinit/internal/owner"
)

// The flag conventions of docs/conventions.md, kept here so every command
// follows them the same way:
//   - every flag that takes a value has a placeholder, the back-quoted word
//     of its usage (`FILE`, `DIR`, `DURATION`), the same one wherever the
//     flag's name appears (TestFlagPlaceholders);
//   - durations are declared with durationFlag alone;
//   - owners are declared with ownerFlag and parsed by owner.Parse;
//   - a mistake in a flag is a usage error (exit 2) that names the flag
//     with two dashes (flagError).

// durationFlag declares a duration option: a Go duration (90s, 5m, 1h30m)
// or whole days (30d). A negative duration is always refused; zero only
// when zero says what it means, which the help then shows ("; 0 turns
// the rescan off"). Read it with durationOf.
func durationFlag(name string, def time.Duration, usage, zero string) *cli.GenericFlag {
	if zero != "" {
		usage += "; 0 " + zero
	}
	return &cli.GenericFlag{Name: name, Value: &durationValue{d: def, zeroOK: zero != ""}, Usage: usage}
}

// durationOf is the value of a flag declared with durationFlag.
func durationOf(c *cli.Context, name string) time.Duration {
	return c.Generic(name).(*durationValue).d
}

// durationValue is the flag.Value of a duration option.
type durationValue struct {
	d      time.Duration
	zeroOK bool
}

func (v *durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	if d == 0 && !v.zeroOK {
		return fmt.Errorf("%q must be more than zero", s)
	}
	v.d = d
	return nil
}

func (v *durationValue) String() string { return formatDuration(v.d) }

// parseDuration reads a duration option's value. Errors quote s and say
// what a duration looks like.
func parseDuration(s string) (time.Duration, error) {
	const day = 24 * time.Hour
	if isDigits(s) && strings.Trim(s, "0") == "" {
		return 0, nil
	}
	if isDigits(s) {
		return 0, fmt.Errorf("%q has no unit: write %ss or %sm (s, m, h, or d for days)", s, s, s)
	}
	if n, ok := strings.CutSuffix(s, "d"); ok && isDigits(n) {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days > int64(1<<63-1)/int64(day) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		return time.Duration(days) * day, nil
	}
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		if d, err := parseDuration(rest); err == nil && d > 0 {
			return 0, fmt.Errorf("%q must not be negative", s)
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 90s, 5m, 12h or 30d", s)
	}
	return d, nil
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// formatDuration prints d the way the help shows defaults: whole days as
// 30d, otherwise time.Duration's form without zero minutes and seconds
// ("1m", not "1m0s").
func formatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	return strings.Replace(s, "h0m", "h", 1)
}

// countFlag declares an option that counts something (at least 1, as
// --liveness-threshold's missed checks): a whole number; anything else is
// refused naming the value. Read it with countOf.
func countFlag(name string, def int, usage string) *cli.GenericFlag {
	return &cli.GenericFlag{Name: name, Value: &countValue{n: def}, Usage: usage}
}

// countOf is the value of a flag declared with countFlag.
func countOf(c *cli.Context, name string) int {
	return c.Generic(name).(*countValue).n
}

// countValue is the flag.Value of a count option.
type countValue struct{ n int }

func (v *countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a whole number", s)
	case n < 1:
		return fmt.Errorf("%q must be at least 1", s)
	}
	v.n = n
	return nil
}

func (v *countValue) String() string { return strconv.Itoa(v.n) }

// ownerRule ends the help of every owner flag: it says what
// owner.Owner.KeyMode and the writers do with the owner.
const ownerRule = " (names, or ids from 0 to 4294967294): the key is 0600, or 0640 readable by GROUP when one is given " +
	"(USER: for the user's login group); certificates are 0644"

// ownerFlag declares an owner option of the files what names; parse it
// with parseOwnerFlag.
func ownerFlag(name, what string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Usage: "`USER[:GROUP]` owning " + what + ownerRule}
}

// parseOwnerFlag reads an owner option: nil when it is not given, a usage
// error naming the flag when it is wrong.
func parseOwnerFlag(c *cli.Context, name string) (*owner.Owner, error) {
	spec := c.String(name)
	if spec == "" {
		return nil, nil
	}
	o, err := owner.Parse(spec)
	if err != nil {
		return nil, usageErrorf("--%s %v", name, err)
	}
	return o, nil
}

// The messages of Go's flag package and urfave/cli about a flag name it
// with one dash and say little about the value; flagError rewrites them.
var (
	flagValueRe   = regexp.MustCompile(`^invalid (boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-([^:]+): (.*)$`)
	flagEnvRe     = regexp.MustCompile(`^could not parse ("(?:[^"\\]|\\.)*") (as bool value |as [a-z0-9 ]+ value )?from environment variable "([^"]+)" (?:as value )?for flag ([^:]+): (.*)$`)
	flagNeedsRe   = regexp.MustCompile(`^flag needs an argument: -(.+)$`)
	flagUnknownRe = regexp.MustCompile(`^flag provided but not defined: -(.+)$`)
)

// flagError turns an error from parsing cmd's flags (cmd: "run", "trust
// install"; "" for the global flags) into a usage error naming the flag
// as it is written, with two dashes.
func flagError(cmd string, err error) error {
	prefix, help := "", "certinit --help"
	if cmd != "" {
		prefix, help = cmd+": ", "certinit "+cmd+" --help"
	}
	msg := err.Error()
	if m := flagValueRe.FindStringSubmatch(msg); m != nil {
		return usageErrorf("%s%s: %s", prefix, dashed(m[3]), valueReason(m[2], m[4], m[1] != ""))
	}
	if m := flagEnvRe.FindStringSubmatch(msg); m != nil {
		return usageErrorf("%s%s (from %s): %s", prefix, dashed(m[4]), m[3], valueReason(m[1], m[5], m[2] == "as bool value "))
	}
	if m := flagNeedsRe.FindStringSubmatch(msg); m != nil {
		return usageErrorf("%s%s needs a value", prefix, dashed(m[1]))
	}
	if m := flagUnknownRe.FindStringSubmatch(msg); m != nil {
		return usageErrorf("%sno flag %s (%s lists them)", prefix, dashed(m[1]), help)
	}
	return usageErrorf("%s%v", prefix, err)
}

// dashed writes a flag name as on the command line: -n, --no-remove.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// valueReason is why value (quoted) was refused. Certinit's own values
// explain themselves; for a boolean, Go's flag package says only "parse
// error" and strconv repeats the value.
func valueReason(value, reason string, boolean bool) string {
	if boolean {
		return value + " is not true or false"
	}
	return reason
}
