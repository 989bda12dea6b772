package mosquittoconf

import "fmt"

// builder assigns directives to the listener or bridge they configure, as
// mosquitto's reader does with its "current listener" and "current bridge".
type builder struct {
	cfg         *Config
	perListener bool      // per_listener_settings true seen: security options are per listener
	def         *Listener // the default listener, shared by all files
	listener    *Listener // current listener: def until a listener line
	bridge      *Bridge   // current bridge: nil until a connection line
}

// newBuilder starts a file: options before its first listener line go to
// def, the configuration's one default listener.
func newBuilder(cfg *Config, def *Listener) *builder {
	return &builder{cfg: cfg, def: def, listener: def}
}

// add records one directive and returns the problems it causes.
func (b *builder) add(d Directive) []Problem {
	b.cfg.Directives = append(b.cfg.Directives, d)
	scope, _ := ScopeOf(d.Name)
	switch {
	case d.Name == "listener":
		l := newListener(d)
		b.cfg.Listeners = append(b.cfg.Listeners, l)
		b.listener = l
	case d.Name == "connection":
		br := &Bridge{Decl: d, Options: map[string]Directive{}}
		b.cfg.Bridges = append(b.cfg.Bridges, br)
		b.bridge = br
	case d.Name == "plugin" || d.Name == "auth_plugin" || d.Name == "global_plugin":
		// Each line loads one more plugin: not a duplicate.
	case d.Name == "port" || d.Name == "bind_address":
		return set(b.def.Options, d)
	case scope == ScopeListener:
		return set(b.listener.Options, d)
	case scope == ScopeBridge:
		if b.bridge == nil {
			return []Problem{{File: d.File, Line: d.Line,
				Msg: fmt.Sprintf("%s before any connection line: mosquitto refuses it (invalid bridge configuration)", d.Name), Fatal: true}}
		}
		return set(b.bridge.Options, d)
	case scope == ScopeSecurity && b.perListener:
		return set(b.listener.Security, d)
	default:
		if d.Name == "user" {
			b.cfg.User = d
		}
		if d.Name == "per_listener_settings" {
			b.perListener, _ = d.Bool()
		}
		return set(b.cfg.Global, d)
	}
	return nil
}

// set stores d in a section, reporting a second string value for the same
// option, which mosquitto refuses ("Duplicate ... value").
func set(opts map[string]Directive, d Directive) []Problem {
	var probs []Problem
	if prev, dup := opts[d.Name]; dup {
		if o, _ := lookup(d.Name); o.kind == KindString {
			probs = append(probs, Problem{File: d.File, Line: d.Line,
				Msg: fmt.Sprintf("duplicate %s (first at %s): mosquitto refuses to start", d.Name, prev.Pos()), Fatal: true})
		}
	}
	opts[d.Name] = d
	return probs
}

func newListener(decl Directive) *Listener {
	return &Listener{Decl: decl, Options: map[string]Directive{}, Security: map[string]Directive{}}
}

// finish puts the default listener first when anything configured it.
func (c *Config) finish(def *Listener) {
	if len(def.Options) > 0 {
		c.Listeners = append([]*Listener{def}, c.Listeners...)
	}
}
