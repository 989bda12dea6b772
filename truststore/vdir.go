package truststore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/certinit/certinit/internal/atomicfile"
	"golang.org/x/sys/unix"
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
	// deferSync: apply leaves the directory's fsync to syncDir (the caller
	// writes a file there next, whose own directory fsync covers both).
	deferSync bool
	unsynced  bool
	hp        string // host path of dir, set by apply
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
func loadVdir(r *fsRoot, dir string) (*vdir, error) {
	return loadVdirOpts(r, dir, false, nil)
}

// loadVdirCleaning is loadVdir that also removes the temporary files a
// crashed run left in dir (atomicfile.CleanTemps, in the same listing);
// one it cannot remove is logged.
func loadVdirCleaning(r *fsRoot, dir string, log *slog.Logger) (*vdir, error) {
	return loadVdirOpts(r, dir, true, log)
}

func loadVdirOpts(r *fsRoot, dir string, clean bool, log *slog.Logger) (*vdir, error) {
	v := &vdir{r: r, dir: dir}
	hp, err := r.resolve(dir, true)
	if err != nil {
		return nil, err
	}
	// The directory is opened once and its links read relative to it:
	// Debian's has ~290 entries, and on a virtual machine a readlink that
	// walks the whole path costs twice one that does not.
	fd, err := unix.Open(hp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		v.cur, v.next = map[string]ventry{}, map[string]ventry{}
		return v, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	d := os.NewFile(uintptr(fd), hp)
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	v.cur, v.next = make(map[string]ventry, len(ents)), make(map[string]ventry, len(ents))
	buf := make([]byte, 512)
	for _, de := range ents {
		name := de.Name()
		if atomicfile.IsTemp(name) {
			if clean && !de.IsDir() {
				if err := unix.Unlinkat(fd, name, 0); err != nil && err != unix.ENOENT {
					log.Warn("cannot clean temporary files", "path", dir, "err", fmt.Errorf("clean %s: %w", hp, err))
				}
			}
			continue
		}
		var e ventry
		switch {
		case de.Type()&fs.ModeSymlink != 0:
			t, err := readlinkat(fd, name, &buf)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", path.Join(dir, name), err)
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

// readlinkat is readlink of name in the directory fd, into *buf (grown as
// needed).
func readlinkat(fd int, name string, buf *[]byte) (string, error) {
	for {
		n, err := unix.Readlinkat(fd, name, *buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n < len(*buf) {
			return string((*buf)[:n]), nil
		}
		*buf = make([]byte, 2*len(*buf))
	}
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
		return v.r.isFile(outside)
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
		return v.r.readFile(outside)
	case e.data != nil:
		return e.data, nil
	default:
		return v.r.readFile(path.Join(v.dir, final))
	}
}

// hashEntry is hashData of readEntry's content; a file read and parsed
// as a source in this operation is not decoded again.
func (v *vdir) hashEntry(name string) (hashInfo, error) {
	e, final, outside, ok := v.follow(name)
	switch {
	case !ok:
		return hashInfo{}, fs.ErrNotExist
	case outside != "":
		return v.r.hashOf(outside)
	case e.data != nil:
		return hashData(e.data), nil
	default:
		return v.r.hashOf(path.Join(v.dir, final))
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

// changes summarises a plan against the disk.
type changes struct {
	created, removed []string
}

// syncDir fsyncs the directory if apply changed it and left the fsync.
func (v *vdir) syncDir() error {
	if !v.unsynced {
		return nil
	}
	v.unsynced = false
	return atomicfile.SyncDir(v.hp)
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
	if len(files) > 0 {
		defer v.r.forget()
	}
	var touched []string // host paths made or removed: cached resolutions go
	defer func() {
		if len(touched) > 0 {
			v.r.changed(touched...)
		}
	}()
	for _, n := range files {
		if old, err := os.ReadFile(hp + "/" + n); err == nil && string(old) == string(v.next[n].data) {
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
			touched = append(touched, hp+"/"+n)
			if err := atomicfile.Symlink(v.next[n].link, hp+"/"+n, isHashName(n)); err != nil {
				return ch, err
			}
			ch.created = append(ch.created, n)
		}
	}
	for _, group := range [][]string{dropHash, dropOther} {
		for _, n := range group {
			touched = append(touched, hp+"/"+n)
			if err := os.Remove(hp + "/" + n); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return ch, fmt.Errorf("remove %s: %w", path.Join(v.dir, n), err)
			}
			ch.removed = append(ch.removed, n)
		}
	}
	v.hp = hp
	if len(ch.created)+len(ch.removed) > 0 {
		if v.deferSync {
			v.unsynced = true
		} else if err := atomicfile.SyncDir(hp); err != nil {
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
