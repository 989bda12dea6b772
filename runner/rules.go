package runner

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/mosquittoconf"
	"github.com/certinit/certinit/reload"
)

// What a change of each TLS file Mosquitto 2.0 reads needs, by when the
// broker reads it (measured on 2.0.11; docs/run.md has the table and the
// measurements). certfile and keyfile are the pair: they are watched as
// --cert and --key, never on their own, because a pair is signalled only
// once it has been checked.
var brokerFiles = []struct {
	option string
	when   readWhen
	watch  bool // watched because the configuration names it
	dir    bool // a directory: what matters is what OpenSSL's lookup finds in it
}{
	{"certfile", onSighup, false, false},
	{"keyfile", onSighup, false, false},
	{"crlfile", onSighup, true, false},
	{"cafile", atStart, true, false},
	{"capath", lazily, true, true},
	{"bridge_cafile", atConnect, true, false},
	{"bridge_capath", atConnect, true, true},
	{"bridge_certfile", atConnect, true, false},
	{"bridge_keyfile", atConnect, true, false},
}

// readWhen is when Mosquitto reads a file.
type readWhen int

const (
	onSighup  readWhen = iota // at start and on SIGHUP: a change needs the signal
	atStart                   // at start only: a change needs a restart
	lazily                    // a listener's capath: searched at each verification, found CAs kept
	atConnect                 // bridge files: read at every connection attempt of the bridge
)

// brokerFile is one file or directory the configuration names, with what
// the broker has read of it.
type brokerFile struct {
	path   string // absolute
	option string
	where  string // "listener 8883 (FILE:LINE)", "bridge hub (FILE:LINE)"
	when   readWhen
	watch  bool
	dir    bool
	seen   content // what the broker may hold: for a capath, every CA it could have found since it started
}

// content stands for what a file holds (one SHA-256 of its bytes, or
// "missing", or the error that kept it from being read) or, for a
// directory, the certificates and CRLs OpenSSL's lookup finds in it (one
// SHA-256 of the DER of each).
type content map[string]bool

// brokerRules decides what a change needs from Mosquitto's own
// configuration (reload.Rules): the signal for a file it reads again on
// SIGHUP, a restart for one it reads only at start or for a CA withdrawn
// from a listener's capath, nothing for a CA added to a capath or a
// bridge's files. It keeps what the broker has read, to compare the files
// with at each change.
type brokerRules struct {
	conf     string   // the mosquitto.conf
	watch    []string // --watch: a change the configuration does not account for is signalled
	triggers []string // --trust and --rehash: the hooks may rewrite any file the configuration names
	log      *slog.Logger

	mu    sync.Mutex
	files []*brokerFile
}

var _ reload.Rules = (*brokerRules)(nil)

// brokerConf is the Mosquitto configuration that decides what a change
// needs: --mosquitto-conf, else the file of the last -c (--config-file)
// on COMMAND's line when COMMAND is mosquitto; "" when there is none.
func (c Config) brokerConf() string {
	if c.MosquittoConf != "" {
		return c.MosquittoConf
	}
	if len(c.Command) == 0 || filepath.Base(c.Command[0]) != "mosquitto" {
		return ""
	}
	conf := ""
	for i := 1; i+1 < len(c.Command); i++ {
		if a := c.Command[i]; a == "-c" || a == "--config-file" {
			conf = c.Command[i+1]
		}
	}
	return conf
}

// loadBroker reads the broker's configuration, when run has one, for the
// rules and the liveness check. Lines Mosquitto refuses are logged; the
// broker will say more when it starts.
func (s *state) loadBroker() (*mosquittoconf.Config, error) {
	path := s.cfg.brokerConf()
	if path == "" {
		return nil, nil
	}
	conf, probs, err := mosquittoconf.Load(path)
	if err != nil {
		return nil, err
	}
	for _, p := range probs {
		if p.Fatal {
			s.log.Warn("mosquitto configuration problem", "path", p.File, "line", p.Line, "problem", p.Msg)
		}
	}
	return conf, nil
}

// newBrokerRules lists the TLS files conf names.
func newBrokerRules(conf *mosquittoconf.Config, cfg Config, log *slog.Logger) *brokerRules {
	r := &brokerRules{conf: conf.File, watch: absPaths(cfg.Watch), triggers: absPaths(slices.Concat(cfg.Trust, cfg.Rehash)), log: log}
	add := func(where string, get func(string) (mosquittoconf.Directive, bool), bridge bool) {
		for _, f := range brokerFiles {
			if strings.HasPrefix(f.option, "bridge_") != bridge {
				continue
			}
			if d, ok := get(f.option); ok {
				r.files = append(r.files, &brokerFile{path: absPath(d.Value), option: f.option, where: where, when: f.when, watch: f.watch, dir: f.dir})
			}
		}
	}
	for _, l := range conf.Listeners {
		add(l.Name(), l.Get, false)
	}
	for _, b := range conf.Bridges {
		add(b.Name(), b.Get, true)
	}
	return r
}

// reloadRules is s.rules for the reloader: nil without a configuration.
func (s *state) reloadRules() reload.Rules {
	if s.rules == nil {
		return nil
	}
	return s.rules
}

// watched are the files the configuration names that run watches besides
// the flags' paths: every TLS file but the pair (see brokerFiles).
func (r *brokerRules) watched() []string {
	if r == nil {
		return nil
	}
	var paths []string
	for _, f := range r.files {
		if f.watch {
			paths = addPaths(paths, f.path)
		}
	}
	return paths
}

// restarted records that the broker starts again and reads every file
// afresh: before it first starts, and after a restart the reloader did
// not decide (the liveness check's).
func (r *brokerRules) restarted() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		f.seen = f.read()
	}
}

// Decide implements reload.Rules. It compares the files a change may have
// touched with what the broker has read of them: the files changed
// themselves (or inside a changed directory), every file when a --trust
// file or a --rehash directory changed (the hooks may have rewritten any
// of them), and always the files the reload signal makes the broker read.
// The strongest rule wins; a --watch path the configuration does not
// account for is signalled, as --watch promises.
func (r *brokerRules) Decide(changed []string, floor reload.Decision) reload.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	abs := absPaths(changed)
	all := slices.ContainsFunc(abs, func(p string) bool { return slices.Contains(r.triggers, p) })
	d := floor
	now := make([]content, len(r.files))
	for i, f := range r.files {
		if !all && f.when != onSighup && !slices.ContainsFunc(abs, f.within) {
			continue
		}
		now[i] = f.read()
		fd, differs := f.decide(now[i])
		if !differs {
			continue
		}
		r.log.Debug("broker file changed", "path", f.path, "option", f.option, "rule", fd.Rule)
		if fd.Stronger(d) {
			d = fd
		}
	}
	for i, p := range abs {
		if slices.Contains(r.watch, p) && !slices.ContainsFunc(r.files, func(f *brokerFile) bool { return f.within(p) }) {
			if fd := (reload.Decision{Action: reload.Signal, Rule: reload.RuleSignal, Path: changed[i],
				Reason: "a --watch path that " + r.conf + " does not name changed"}); fd.Stronger(d) {
				d = fd
			}
		}
	}
	if d.Rule == "" {
		d = reload.Decision{Action: reload.Nothing, Rule: reload.RuleNone,
			Reason: "no file the broker reads changed: " + r.conf + " names none of the changed files, or they hold what the broker has"}
	}
	r.record(d.Action, now)
	return d
}

// record keeps what the broker holds once a decision is carried out: a
// restart reads everything again; otherwise the files compared now are
// what it has (a capath's CAs add to those it may have found).
func (r *brokerRules) record(a reload.Action, now []content) {
	for i, f := range r.files {
		switch {
		case a == reload.Restart:
			f.seen = f.read()
		case now[i] == nil:
		case f.when == lazily:
			for k := range now[i] {
				f.seen[k] = true
			}
		default:
			f.seen = now[i]
		}
	}
}

// within reports whether changed path p is f's path or a directory that
// holds it.
func (f *brokerFile) within(p string) bool {
	return f.path == p || strings.HasPrefix(f.path, p+string(filepath.Separator))
}

// decide says what f holding now needs, and whether it differs from what
// the broker has at all.
func (f *brokerFile) decide(now content) (reload.Decision, bool) {
	var removed, added bool
	for k := range f.seen {
		removed = removed || !now[k]
	}
	for k := range now {
		added = added || !f.seen[k]
	}
	if !removed && !added {
		return reload.Decision{}, false
	}
	d := reload.Decision{Path: f.path, Option: f.option}
	switch {
	case f.when == onSighup:
		d.Action, d.Rule, d.Reason = reload.Signal, reload.RuleSighup, "Mosquitto reads the "+f.option+" of "+f.where+" again on SIGHUP"
	case f.when == atStart:
		d.Action, d.Rule, d.Reason = reload.Restart, reload.RuleRestart, "Mosquitto reads the "+f.option+" of "+f.where+" only at start"
	case f.when == lazily && removed:
		d.Action, d.Rule, d.Reason = reload.Restart, reload.RuleRestart, "a CA was removed from or replaced in the capath of "+f.where+
			": OpenSSL keeps the CAs it has found, so the broker trusts it until it restarts"
	case f.when == lazily:
		d.Action, d.Rule, d.Reason = reload.Nothing, reload.RuleNone, "a CA added to the capath of "+f.where+
			" is found at the next verification that needs it; no client is dropped"
	default:
		d.Action, d.Rule, d.Reason = reload.Nothing, reload.RuleNone, "the "+f.option+" of "+f.where+
			" is read at the bridge's next connection attempt; the connected bridge is left alone"
	}
	return d, true
}

// read returns what f holds now.
func (f *brokerFile) read() content {
	if f.dir {
		return lookupContent(f.path)
	}
	data, err := pemfile.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return content{"missing": true}
	case err != nil:
		return content{"unreadable: " + err.Error(): true}
	}
	return content{fmt.Sprintf("%x", sha256.Sum256(data)): true}
}

// lookupContent is what OpenSSL's capath lookup can find in dir
// (hashlink.LookupDir): the certificates and CRLs it reaches, as far as
// it reads. A CA after a gap in the numbering, or behind a link the lookup
// cannot load, is never found, so it is not held. A directory that is not
// there holds nothing.
func lookupContent(dir string) content {
	files, err := hashlink.LookupDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return content{"unreadable: " + err.Error(): true}
	}
	c := content{}
	for _, f := range files {
		for _, o := range f.Found() {
			c[fmt.Sprintf("%x", sha256.Sum256(o.DER))] = true
		}
	}
	return c
}

// absPath is p made absolute, as the broker, which runs in certinit's
// working directory, resolves it.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

func absPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = absPath(p)
	}
	return out
}

// watchBroker reads the broker's configuration, when run has one, and
// sets up the rules and the liveness check from it.
func (s *state) watchBroker() error {
	conf, err := s.loadBroker()
	if err != nil {
		return err
	}
	s.broker = conf
	if conf != nil {
		s.rules = newBrokerRules(conf, s.cfg, s.log)
		s.log.Info("broker configuration", "path", conf.File, "watched", s.rules.watched())
	}
	s.live = newLiveness(s.cfg.Liveness, conf, s.log)
	return nil
}
