package truststore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

// vdir is a planned state of one managed directory (Debian's /etc/ssl/certs,
// a dir: store, a p11-kit hash directory). Changes are made to the plan
// first; apply then brings the disk to it in an order that keeps every
// link resolving at every moment: new and changed links first (targets
// exist already), hash links next, removals last (hash links before the
// files they name). A crash at any point leaves a consistent directory, and
// the next run finishes the job.
type vdir struct {
	r   *fsRoot
	dir string // in-root path
	// cur is what is on disk, next what should be; both map names to
	// entries. Subdirectories are kept as they are.
	cur, next map[string]ventry
	// sources are the files outside the directory that this operation
	// read as the store's sources, by in-root path: a link to one leads to
	// a regular file holding these bytes (see readEntry, resolves).
	sources map[string][]byte
}

// ventry is one name in a directory: a symlink (link != "") or a regular
// file whose content certinit writes (data != nil) or leaves alone.
type ventry struct {
	link  string
	data  []byte
	isDir bool
	keep  bool // an existing non-link file certinit does not rewrite
}

func (e ventry) isLink() bool { return e.link != "" }

// loadVdir reads dir's entries; a missing directory is an empty plan.
// Temporary files (atomicfile.TempPrefix) are not part of the plan: they
// are a crashed run's, removed when the operation began (Store.begin).
func loadVdir(r *fsRoot, dir string) (*vdir, error) {
	v := &vdir{r: r, dir: dir, cur: map[string]ventry{}, next: map[string]ventry{}}
	hp, err := r.resolve(dir, true)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(hp)
	if errors.Is(err, fs.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %w", userfile.PathError(dir, err))
	}
	for _, de := range ents {
		name := de.Name()
		if atomicfile.IsTemp(name) {
			continue
		}
		var e ventry
		switch {
		case de.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(filepath.Join(hp, name))
			if err != nil {
				return nil, fmt.Errorf("read %w", userfile.PathError(path.Join(dir, name), err))
			}
			e.link = t
		case de.IsDir():
			e.isDir = true
		default:
			e.keep = true
		}
		v.cur[name] = e
		v.next[name] = e
	}
	return v, nil
}

// names returns the planned names in strcmp order, as openssl rehash
// processes them.
func (v *vdir) names() []string {
	out := make([]string, 0, len(v.next))
	for n := range v.next {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (v *vdir) setLink(name, target string) { v.next[name] = ventry{link: target} }
func (v *vdir) setFile(name string, data []byte) {
	v.next[name] = ventry{data: data}
}
func (v *vdir) remove(name string) { delete(v.next, name) }

// follow follows planned links within the directory to the entry they
// end at. It returns that entry's name, or for a link leaving the
// directory its in-root target path; ok is false for a missing name or a
// loop.
func (v *vdir) follow(name string) (e ventry, final, outside string, ok bool) {
	for i := 0; i < maxLinks; i++ {
		e, found := v.next[name]
		if !found {
			return e, "", "", false
		}
		if !e.isLink() {
			return e, name, "", true
		}
		if strings.Contains(e.link, "/") {
			target := e.link
			if !strings.HasPrefix(target, "/") {
				target = path.Join(v.dir, target)
			}
			return e, "", target, true
		}
		name = e.link
	}
	return ventry{}, "", "", false
}

// resolves reports whether a planned entry leads to a regular file, like
// `test -f`: links within the directory are followed in the plan, others
// on disk inside the root.
func (v *vdir) resolves(name string) bool {
	e, _, outside, ok := v.follow(name)
	switch {
	case !ok:
		return false
	case outside != "":
		_, read := v.sources[outside]
		return read || v.r.isFile(outside)
	default:
		return !e.isDir
	}
}

// readEntry returns the content of a planned entry, following links inside
// the plan and the root.
func (v *vdir) readEntry(name string) ([]byte, error) {
	e, final, outside, ok := v.follow(name)
	switch {
	case !ok:
		return nil, fs.ErrNotExist
	case outside != "":
		if data, ok := v.sources[outside]; ok {
			return data, nil
		}
		return v.r.readFile(outside)
	case e.data != nil:
		return e.data, nil
	default:
		return v.r.readFile(path.Join(v.dir, final))
	}
}

// removeDangling drops planned links that lead nowhere, as Debian does
// before it rehashes. It returns the names dropped.
func (v *vdir) removeDangling() []string {
	var out []string
	for _, n := range v.names() {
		if e := v.next[n]; e.isLink() && !v.resolves(n) {
			v.remove(n)
			out = append(out, n)
		}
	}
	return out
}

// changes summarises what a sync did: the plan against the disk, and in
// a dir: store the bundles it split and the old bundle it removed.
type changes struct {
	created, removed []string
	split            []Split
	migrated         string
}

// apply writes the plan (see vdir). It creates the directory if needed.
func (v *vdir) apply() (changes, error) {
	var ch changes
	var links, hashes, files, dropHash, dropOther []string
	for _, n := range v.names() {
		want, old := v.next[n], v.cur[n]
		_, existed := v.cur[n]
		switch {
		case want.isLink() && (!existed || old.link != want.link):
			if isHashName(n) {
				hashes = append(hashes, n)
			} else {
				links = append(links, n)
			}
		case want.data != nil:
			files = append(files, n)
		}
	}
	for n, old := range v.cur {
		if _, ok := v.next[n]; ok || old.isDir {
			continue
		}
		if isHashName(n) {
			dropHash = append(dropHash, n)
		} else {
			dropOther = append(dropOther, n)
		}
	}
	sort.Strings(dropHash)
	sort.Strings(dropOther)
	if len(links)+len(hashes)+len(files) > 0 {
		if err := v.r.mkdirAll(v.dir); err != nil {
			return ch, err
		}
	}
	hp, err := v.r.resolve(v.dir, true)
	if err != nil {
		return ch, err
	}
	for _, n := range files {
		if old, err := pemfile.ReadFile(hp + "/" + n); err == nil && bytes.Equal(old, v.next[n].data) {
			continue
		}
		if err := atomicfile.WriteFile(hp+"/"+n, v.next[n].data, 0o644); err != nil {
			return ch, err
		}
		ch.created = append(ch.created, n)
	}
	for _, group := range [][]string{links, hashes} {
		for _, n := range group {
			// A hash name may replace a regular file, as openssl rehash
			// does; a certificate link never replaces a file someone put
			// there.
			if err := atomicfile.Symlink(v.next[n].link, hp+"/"+n, isHashName(n)); err != nil {
				return ch, err
			}
			ch.created = append(ch.created, n)
		}
	}
	for _, group := range [][]string{dropHash, dropOther} {
		for _, n := range group {
			if err := os.Remove(hp + "/" + n); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return ch, fmt.Errorf("remove %w", userfile.PathError(path.Join(v.dir, n), err))
			}
			ch.removed = append(ch.removed, n)
		}
	}
	if len(ch.created)+len(ch.removed) > 0 {
		if err := atomicfile.SyncDir(hp); err != nil {
			return ch, err
		}
	}
	v.cur = make(map[string]ventry, len(v.next))
	for n, e := range v.next {
		if e.data != nil {
			e = ventry{keep: true}
		}
		v.cur[n] = e
	}
	return ch, nil
}

// isHashName reports whether openssl rehash takes name for a hash link.
func isHashName(name string) bool {
	_, ok := hashlink.ParseLinkName(name)
	return ok
}
