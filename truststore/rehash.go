package truststore

import (
	"errors"
	"fmt"
	"log/slog"
	"path"

	"github.com/certinit/certinit/hashlink"
)

// planHashLinks updates the plan v with the hash links `openssl rehash`
// (OpenSSL 3) would leave in the directory. The rules are hashlink's
// (IsCandidate, ParseLinkName, Classify, Planner); this only feeds them
// the planned directory, because a store under --root has absolute links
// that resolve only inside the root, where hashlink.Rehash, working on a
// host directory, cannot follow them.
//
// More than 256 certificates with one hash: the links are planned as
// openssl rehash makes them (the file beyond 256 gets none, the others
// do), and the error wraps hashlink.ErrTooManyCollisions and names each
// such file. The caller applies the plan and then stops with the error
// before it writes the bundle, as update-ca-certificates does when
// openssl rehash fails (it runs under sh -e).
func planHashLinks(v *vdir, log *slog.Logger) error {
	var planner hashlink.Planner
	var errs []error
	for _, name := range v.names() {
		e := v.next[name]
		p := path.Join(v.dir, name)
		if e.isLink() {
			if n, ok := hashlink.ParseLinkName(name); ok {
				if err := planner.AddLink(n, e.link); err != nil {
					log.Warn("hash links: link left as it is", "path", p, "err", err)
				}
				continue
			}
		}
		if e.isDir || !hashlink.IsCandidate(name) {
			continue
		}
		data, err := v.readEntry(name)
		if err != nil {
			log.Warn("hash links: cannot read file; it gets no hash link", "path", p, "err", err)
			continue
		}
		obj, err := hashlink.Classify(data)
		if err != nil {
			log.Debug("hash links: skipping file", "path", p, "reason", err.Error())
			continue
		}
		dup, err := planner.AddFile(name, obj)
		if dup {
			log.Debug("hash links: skipping duplicate", "path", p)
		}
		if err != nil {
			log.Error("hash links: file gets no hash link", "path", p, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	pl := planner.Plan(false)
	for _, l := range pl.Create {
		v.setLink(l.Name, l.Target)
	}
	for _, n := range pl.Remove {
		if v.next[n].isLink() {
			v.remove(n) // only a symlink is ever a stale hash link
		}
	}
	return errors.Join(errs...)
}
