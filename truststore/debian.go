package truststore

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
)

// debianEngine does what update-ca-certificates does (Debian's shell script
// and Alpine's update-ca.c), so that running the distribution's tool after
// certinit changes nothing: same NAME.pem links with the same absolute
// targets, same hash links, same bundle bytes.
type debianEngine struct{ s *Store }

// sources returns, in bundle order: the certificates ca-certificates.conf
// selects (in file order), then the local ones (Debian: every *.crt under
// LocalDir, recursively, in C-locale sort order; Alpine: every non-hidden
// file directly in LocalDir). Without a SystemDir but with a bundle (a
// distroless or Alpine base image, which ship only the bundle) the bundle's
// own certificates come first, so that installing one CA never drops the
// image's public roots.
func (e *debianEngine) sources(o syncOptions) ([]source, error) {
	l := e.s.layout
	out, err := e.systemSources()
	if err != nil {
		return nil, err
	}
	var local []string
	if l.family == familyAlpine {
		local = e.alpineLocal()
	} else {
		local = e.debianLocal()
	}
	var locals []source
	for _, p := range local {
		if o.exclude[p] {
			continue
		}
		src, err := e.readSource(p, true)
		if err != nil {
			return nil, err
		}
		locals = append(locals, src)
	}
	if base, ok := e.keptBundle(locals, o); ok {
		out[0] = base
	} else {
		out = out[1:]
	}
	return append(out, locals...), nil
}

// systemSources returns room for a kept bundle (out[0]) followed by the
// sources ca-certificates.conf selects, in its order.
func (e *debianEngine) systemSources() ([]source, error) {
	s, l := e.s, e.s.layout
	selected := e.confSelected()
	out := make([]source, 1, len(selected)+16)
	for _, name := range selected {
		p := l.SystemDir + "/" + name
		src, err := e.readSource(p, false)
		if err != nil && !s.root.isFile(p) {
			s.log.Warn("listed in ca-certificates.conf but not found", "path", p)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// readSource reads one source file. A file that does not parse as
// certificates still goes into the bundle, as the distribution's tool
// copies it.
func (e *debianEngine) readSource(p string, local bool) (source, error) {
	data, err := e.s.root.readFile(p)
	if err != nil {
		return source{}, err
	}
	certs, err := parseCerts(data)
	if err != nil {
		e.s.log.Warn("source file does not parse; it goes into the bundle as it is", "path", p, "err", err)
	}
	return source{path: p, data: data, certs: certs, local: local, link: e.linkName(p)}, nil
}

// keptBundle is the bundle a store without system sources already has,
// minus the local certificates (which follow it) and those being removed.
func (e *debianEngine) keptBundle(locals []source, o syncOptions) (source, bool) {
	s, l := e.s, e.s.layout
	if s.root.exists(l.SystemDir) || !s.root.isFile(l.Bundle) {
		return source{}, false
	}
	data, err := s.root.readFile(l.Bundle)
	if err != nil {
		return source{}, false
	}
	skip := map[string]bool{}
	for fp := range o.dropFPs {
		skip[fp] = true
	}
	for _, src := range locals {
		for _, c := range src.certs {
			skip[fingerprint(c.Raw)] = true
		}
	}
	certs, _ := parseCerts(data)
	var kept []*x509.Certificate
	for _, c := range certs {
		if !skip[fingerprint(c.Raw)] {
			kept = append(kept, c)
		}
	}
	base := source{path: l.Bundle, data: pemfile.EncodeCerts(kept...), certs: kept}
	return base, len(kept) > 0
}

// confSelected reads ca-certificates.conf as the shell script does: empty
// lines, comments and !deselected lines dropped, each line through `read`.
func (e *debianEngine) confSelected() []string {
	var out []string
	for _, line := range e.confLines() {
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		out = append(out, shellRead(line))
	}
	return out
}

// confDeselected returns the !lines (Debian removes their links).
func (e *debianEngine) confDeselected() []string {
	var out []string
	for _, line := range e.confLines() {
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			out = append(out, shellRead(rest))
		}
	}
	return out
}

func (e *debianEngine) confLines() []string {
	data, err := e.s.root.readFile(e.s.layout.ConfFile)
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// shellRead does what `read crt` does to a line: strip surrounding blanks
// and backslash escapes.
func shellRead(s string) string {
	s = strings.Trim(s, " \t")
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		} else if s[i] == '\\' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// debianLocal is `find -L LOCALCERTSDIR -type f -name '*.crt' | sort`.
// Like find, it enters each directory once: a link back to a directory
// it is already in (sub -> ..) is a loop, not more certificates.
func (e *debianEngine) debianLocal() []string {
	var out []string
	type dirID struct{ dev, ino uint64 }
	visiting := map[dirID]bool{}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		if depth > maxLinks {
			return
		}
		hp, err := e.s.root.resolve(dir, true)
		if err != nil {
			return
		}
		if fi, err := os.Stat(hp); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				id := dirID{uint64(st.Dev), st.Ino}
				if visiting[id] {
					e.s.log.Warn("directory loop; not entering it again", "path", dir)
					return
				}
				visiting[id] = true
				defer delete(visiting, id)
			}
		}
		ents, err := os.ReadDir(hp)
		if err != nil {
			return
		}
		for _, de := range ents {
			p := dir + "/" + de.Name()
			fi, err := e.s.root.stat(p)
			if err != nil {
				continue
			}
			switch {
			case fi.IsDir():
				walk(p, depth+1)
			case fi.Mode().IsRegular() && strings.HasSuffix(de.Name(), ".crt"):
				out = append(out, p)
			}
		}
	}
	walk(e.s.layout.LocalDir, 0)
	sort.Strings(out)
	return out
}

// alpineLocal: every non-hidden regular file directly in LocalDir.
func (e *debianEngine) alpineLocal() []string {
	return e.s.root.plainFiles(e.s.layout.LocalDir)
}

// linkName is the name of a source's link in CertsDir.
func (e *debianEngine) linkName(p string) string {
	base := path.Base(p)
	if e.s.layout.family == familyAlpine {
		if len(base) > 4 && strings.HasSuffix(base, ".crt") {
			base = base[:len(base)-4]
		}
		return linkChars.Replace(e.s.layout.LinkPrefix + base + ".pem")
	}
	if base != ".crt" {
		base = strings.TrimSuffix(base, ".crt")
	}
	return linkChars.Replace(base) + ".pem"
}

// linkChars is the sed in update-ca-certificates' add().
var linkChars = strings.NewReplacer(" ", "_", "(", "=", ")", "=", ",", "_")

func (e *debianEngine) sync(o syncOptions) (changes, error) {
	s, l := e.s, e.s.layout
	srcs, err := e.sources(o)
	if err != nil {
		return changes{}, err
	}
	if !s.root.exists(l.ConfFile) || e.confEmpty() {
		o.fresh = true // as the script does when the conf file is empty
	}
	v, err := loadVdir(s.root, l.CertsDir)
	if err != nil {
		return changes{}, err
	}
	v.sources = map[string][]byte{}
	for _, src := range srcs {
		if src.link != "" { // a file, not a kept bundle's certificates
			v.sources[src.path] = src.data
		}
	}
	if o.fresh && l.family == familyDebian {
		for _, n := range v.names() {
			t := v.next[n].link
			if strings.HasPrefix(t, l.SystemDir) || strings.HasPrefix(t, l.LocalDir) {
				v.remove(n)
			}
		}
		v.removeDangling()
	}
	wanted := map[string]bool{}
	for _, src := range srcs {
		if src.link != "" {
			v.setLink(src.link, src.path)
			wanted[src.link] = true
		}
	}
	for p := range o.exclude {
		if n := e.linkName(p); !wanted[n] && v.next[n].link == p {
			v.remove(n)
		}
	}
	if l.family == familyDebian {
		for _, crt := range e.confDeselected() {
			base := path.Base(l.SystemDir + "/" + crt)
			if base != ".crt" {
				base = strings.TrimSuffix(base, ".crt")
			}
			if v.next[base+".pem"].isLink() {
				v.remove(base + ".pem")
			}
		}
	} else {
		for _, n := range v.names() {
			t := v.next[n].link
			if !wanted[n] && (strings.HasPrefix(t, l.SystemDir+"/") || strings.HasPrefix(t, l.LocalDir+"/")) {
				v.remove(n)
			}
		}
	}
	v.removeDangling()
	// Alpine copies files as they are; Debian adds a missing final newline.
	return s.applyThenBundle(v, planHashLinks(v, s.log), concatSources(srcs, l.family == familyDebian))
}

// applyThenBundle applies the plan v, whose hash links planHashLinks made
// with the error hashErr, then writes the bundle and the compatibility
// links. The links come first, so a crash in between leaves every link
// resolving and the old bundle, which the next run replaces. A hashErr
// (more than 256 certificates with one hash) stops the operation after
// the links, with the bundle as it was: update-ca-certificates, which runs
// under sh -e, stops there too when openssl rehash fails.
func (s *Store) applyThenBundle(v *vdir, hashErr error, bundle []byte) (changes, error) {
	ch, err := v.apply()
	if err != nil {
		return ch, err
	}
	if hashErr != nil {
		return ch, hashErr
	}
	if err := s.writeBundle(bundle); err != nil {
		return ch, err
	}
	return ch, s.compatLinks()
}

func (e *debianEngine) confEmpty() bool {
	fi, err := e.s.root.stat(e.s.layout.ConfFile)
	return err != nil || fi.Size() == 0
}

// concatSources is the bundle: every source file's bytes in order, with a
// final newline added where one is missing when fixNewline is set (Debian's
// sed -e '$a\', bug #635570).
func concatSources(srcs []source, fixNewline bool) []byte {
	var b bytes.Buffer
	for _, src := range srcs {
		b.Write(src.data)
		if fixNewline && len(src.data) > 0 && src.data[len(src.data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// writeBundle replaces the bundle when its bytes change.
func (s *Store) writeBundle(bundle []byte) error {
	l := s.layout
	if old, err := s.root.readFile(l.Bundle); err == nil && bytes.Equal(old, bundle) {
		return nil
	}
	if err := s.root.mkdirAll(path.Dir(l.Bundle)); err != nil {
		return err
	}
	hp, err := s.root.resolve(l.Bundle, false)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(hp, bundle, 0o644)
}

// compatLinks creates the layout's compatibility links where nothing is.
func (s *Store) compatLinks() error {
	for _, c := range s.layout.Compat {
		if _, err := s.root.lstat(c.Path); err == nil {
			continue
		}
		if err := s.root.mkdirAll(path.Dir(c.Path)); err != nil {
			return err
		}
		hp, err := s.root.resolve(c.Path, false)
		if err != nil {
			return err
		}
		if err := atomicfile.Symlink(c.Target, hp, false); err != nil {
			return err
		}
	}
	return nil
}
