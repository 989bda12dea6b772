package mosquittoconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/certinit/certinit/internal/userfile"
)

// DefaultUser is the account mosquitto drops to when started as root and the
// configuration names no `user`.
const DefaultUser = "mosquitto"

// maxConfigSize bounds one configuration file; real ones are a few KiB.
const maxConfigSize = 4 << 20

// Config is a parsed configuration: the main file and its include_dir files.
type Config struct {
	File       string               // the main file
	Files      []string             // every file read, in the order mosquitto reads them
	Directives []Directive          // every accepted line, in reading order
	User       Directive            // the `user` line; zero when absent (DefaultUser applies)
	Global     map[string]Directive // global options (and security options without per_listener_settings)
	Listeners  []*Listener          // the default listener first, when it has options (Mosquitto may still not open it: Listener.Opened)
	Bridges    []*Bridge
}

// UserName is the account the broker runs as after dropping privileges.
func (c *Config) UserName() string {
	if c.User.Value != "" {
		return c.User.Value
	}
	return DefaultUser
}

// Listener is a `listener PORT [ADDRESS]` section, or the default listener
// that options before the first `listener` line (and port/bind_address)
// configure.
type Listener struct {
	Decl     Directive            // the listener line; zero for the default listener
	Options  map[string]Directive // the last occurrence of each listener option
	Security map[string]Directive // security options, with per_listener_settings true
}

// Name describes the listener for messages: "listener 8883 (FILE:LINE)".
func (l *Listener) Name() string {
	if l.Decl.Line == 0 {
		return "default listener"
	}
	return fmt.Sprintf("listener %s (%s)", l.Decl.Value, l.Decl.Pos())
}

// Get returns a listener option.
func (l *Listener) Get(name string) (Directive, bool) {
	d, ok := l.Options[name]
	return d, ok
}

// Bridge is a `connection NAME` section.
type Bridge struct {
	Decl    Directive
	Options map[string]Directive
}

// Name describes the bridge for messages.
func (b *Bridge) Name() string {
	return fmt.Sprintf("bridge %s (%s)", b.Decl.Value, b.Decl.Pos())
}

// Get returns a bridge option.
func (b *Bridge) Get(name string) (Directive, bool) {
	d, ok := b.Options[name]
	return d, ok
}

// Load reads path and the files of its include_dir lines (only in the main
// file, as mosquitto does: *.conf, sorted case-insensitively first) and
// builds the model. A main file that cannot be read is an error naming it;
// an included one that cannot be read, and lines mosquitto would refuse,
// are problems.
func Load(path string) (*Config, []Problem, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, nil, err
	}
	dirs, probs := Parse(data, path)
	cfg := &Config{File: path, Files: []string{path}, Global: map[string]Directive{}}
	def := newListener(Directive{})
	b := newBuilder(cfg, def)
	for _, d := range dirs {
		if d.Name != "include_dir" {
			probs = append(probs, b.add(d)...)
			continue
		}
		files, err := IncludeFiles(d.Value)
		if err != nil {
			probs = append(probs, Problem{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include_dir %s: %v: mosquitto refuses to start", d.Value, err), Fatal: true})
			continue
		}
		for _, f := range files {
			idata, err := readConfig(f)
			if err != nil {
				// Where the file comes in; err names it. mosquitto reads
				// an oversized file, and stops on the others (or, on a
				// FIFO, waits for a writer forever).
				probs = append(probs, Problem{File: d.File, Line: d.Line, Msg: err.Error(), Fatal: !errors.Is(err, userfile.ErrTooLarge)})
				continue
			}
			cfg.Files = append(cfg.Files, f)
			idirs, iprobs := Parse(idata, f)
			probs = append(probs, iprobs...)
			// Each included file starts afresh: options before its first
			// listener line go to the default listener, not to the
			// including file's last listener.
			ib := newBuilder(cfg, def)
			for _, id := range idirs {
				if id.Name == "include_dir" {
					probs = append(probs, Problem{File: id.File, Line: id.Line, Msg: "include_dir is ignored in an included file"})
					continue
				}
				probs = append(probs, ib.add(id)...)
			}
		}
	}
	cfg.finish(def)
	return cfg, probs, nil
}

// readConfig reads one configuration file through the reader of every
// file a user names (internal/userfile): a FIFO, a device, a directory or
// a file over maxConfigSize is an error that names it once.
func readConfig(path string) ([]byte, error) {
	return userfile.Read(path, maxConfigSize)
}

// IncludeFiles lists the files mosquitto reads for `include_dir dir`: names
// longer than ".conf" that end in ".conf", in mosquitto's order (compare
// letters case-insensitively first, then by case).
func IncludeFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, userfile.Reason(err) // the caller names dir
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if len(n) > len(".conf") && strings.HasSuffix(n, ".conf") {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return includeLess(names[i], names[j]) })
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out, nil
}

// includeLess orders names as mosquitto's scmp_p: byte by byte, upper-cased
// first, then as they are; a prefix sorts first. Bytes >= 0x80 sort after
// ASCII (checked against the broker's own load order in the tests).
func includeLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := int(a[i]), int(b[i])
		if ua, ub := cUpper(ca), cUpper(cb); ua != ub {
			return ua < ub
		}
		if ca != cb {
			return ca < cb
		}
	}
	return len(a) < len(b)
}

func cUpper(c int) int {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
