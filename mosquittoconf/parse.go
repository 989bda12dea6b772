// Package mosquittoconf reads Mosquitto 2.0 configuration files the way the
// broker does: line rules, include_dir, and which listener or bridge each
// option belongs to. certinit check uses it to find every certificate, key
// and CA path a broker will load, with the file and line that names it.
//
// It is not a full validator of mosquitto.conf (it does not check topics,
// plugins or log settings beyond their syntax) and it never writes a
// configuration.
package mosquittoconf

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Directive is one configuration line: an option and its value.
type Directive struct {
	Name  string
	Value string // the rest of the line, leading and trailing blanks trimmed
	File  string
	Line  int
}

// Pos is "FILE:LINE", the form compilers and mosquitto's own errors use.
func (d Directive) Pos() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// Word is the first space-separated word of the value: what mosquitto reads
// for booleans and numbers (the rest of the line is ignored).
func (d Directive) Word() string {
	w, _, _ := strings.Cut(d.Value, " ")
	return w
}

// Bool reads a boolean value as mosquitto does: true/1 or false/0.
func (d Directive) Bool() (value, ok bool) {
	switch d.Word() {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// Problem is something in a configuration file that mosquitto refuses or
// reads differently from what the author meant.
type Problem struct {
	File  string
	Line  int
	Msg   string
	Fatal bool // mosquitto refuses to start with this line
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Parse splits one file's text into directives with mosquitto's line rules:
// a comment is a line whose very first character is '#'; the option name
// ends at the first space (a tab is part of the name); string values are the
// rest of the line with blanks trimmed, so a trailing "# comment" is part
// of the value. Lines mosquitto would refuse come back as problems, and the
// directives that parse are returned either way.
func Parse(data []byte, file string) ([]Directive, []Problem) {
	var dirs []Directive
	var probs []Problem
	problem := func(line int, fatal bool, format string, args ...any) {
		probs = append(probs, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Fatal: fatal})
	}
	lineNo := 0
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		lineNo++
		if len(raw) == 0 || raw[0] == '#' || raw[0] == '\r' {
			continue
		}
		line := strings.TrimRight(string(raw), "\r\n")
		rest := strings.TrimLeft(line, " ")
		if rest == "" {
			continue
		}
		name, value, _ := strings.Cut(rest, " ")
		value = strings.Trim(value, " \t")
		switch {
		case strings.HasPrefix(name, "#"):
			problem(lineNo, true, "indented comment: mosquitto treats '#' as a comment only in the first column and refuses %q as an option", name)
			continue
		case strings.HasPrefix(name, "\t"):
			problem(lineNo, true, "line starts with a tab: mosquitto reads the tab as part of an option name and refuses the line")
			continue
		case strings.Contains(name, "\t"):
			problem(lineNo, true, "tab after %q: mosquitto separates option and value by a space only and refuses this line", strings.SplitN(name, "\t", 2)[0])
			continue
		}
		opt, known := lookup(name)
		if !known {
			problem(lineNo, true, "unknown option %q: mosquitto refuses to start", name)
			continue
		}
		if msg, fatal := checkValue(name, value, opt.kind); msg != "" {
			problem(lineNo, fatal, "%s", msg)
			if value == "" {
				continue
			}
		}
		dirs = append(dirs, Directive{Name: name, Value: value, File: file, Line: lineNo})
	}
	return dirs, probs
}

// checkValue returns what is wrong with a value ("" if nothing) and whether
// mosquitto refuses to start because of it.
func checkValue(name, value string, kind Kind) (string, bool) {
	if value == "" {
		return fmt.Sprintf("empty %s value: mosquitto refuses to start", name), true
	}
	if !utf8.ValidString(value) {
		return fmt.Sprintf("%s: malformed UTF-8 in value: mosquitto refuses to start", name), true
	}
	word, _, _ := strings.Cut(value, " ")
	switch kind {
	case KindBool:
		if _, ok := (Directive{Value: value}).Bool(); !ok {
			return fmt.Sprintf("invalid %s value %q: use true or false", name, word), true
		}
	case KindInt:
		if !isInt(word) {
			return fmt.Sprintf("%s value %q is not a number: mosquitto reads it as 0", name, word), false
		}
	case KindString:
		if strings.Contains(value, " #") {
			return fmt.Sprintf("%s value %q contains \" #\": mosquitto has no trailing comments, the text after # is part of the value", name, value), false
		}
	}
	return "", false
}

func isInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
