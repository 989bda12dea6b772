package probe

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/truststore"
)

// hashDirProblems compares a capath directory's hash links with the
// certificates and CRLs in it, given what OpenSSL's capath lookup opened
// there (hashlink.LookupDir, as verify.LoadTrust read it): every link the
// lookup opens must load and hold an object of the hash in its name; no
// link may sit where the lookup never gets to, after a gap in the
// numbering; and every file `openssl rehash` would link (hashlink.Classify)
// must have a link of its hash. Of the files, it reads only the candidates
// no link leads to. It returns one sentence per problem, each ending with
// the command that fixes it: a rehash for links, and for a file of several
// certificates (which no rehash links) the dir: store's rebuild, which
// splits it.
func hashDirProblems(dir string, opened []hashlink.LookupFile) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}
	}
	hd := &hashDir{dir: dir, present: map[hashlink.LinkName][]uint16{},
		links: map[hashlink.LinkName][]os.FileInfo{}, found: map[hashlink.LinkName][]*hashlink.Object{}}
	isOpened := map[hashlink.LinkName]bool{}
	for _, f := range opened {
		isOpened[f.LinkName] = true
		hd.opened(f)
	}
	var files []string
	for _, e := range ents {
		name := e.Name()
		ln, ok := hashlink.ParseLinkName(name)
		switch {
		case atomicfile.IsTemp(name):
		case !ok || !hashlink.IsLookupName(name):
			if hashlink.IsCandidate(name) {
				files = append(files, name)
			}
		case ln.String() == name: // else a number beyond 16 bits: no lookup counts that far
			hd.present[bucketOf(ln)] = append(hd.present[bucketOf(ln)], ln.ID)
			if !isOpened[ln] {
				hd.unopened(ln)
			}
		}
	}
	for _, name := range files {
		hd.candidate(name)
	}
	hd.gaps(opened)
	return hd.problems
}

// hashDir is what hashDirProblems learns about a capath.
type hashDir struct {
	dir      string
	present  map[hashlink.LinkName][]uint16           // the numbers of the lookup names there, by bucket
	links    map[hashlink.LinkName][]os.FileInfo      // the files the good links of a bucket lead to
	found    map[hashlink.LinkName][]*hashlink.Object // what the lookup finds, by bucket
	problems []string
}

// bucketOf is the name with number 0 of n's hash and kind.
func bucketOf(n hashlink.LinkName) hashlink.LinkName {
	return hashlink.LinkName{Hash: n.Hash, CRL: n.CRL}
}

func (hd *hashDir) rehash(format string, args ...any) {
	hd.problems = append(hd.problems, fmt.Sprintf(format, args...)+": run certinit rehash "+hd.dir)
}

// opened checks a file the lookup opened: it loads, and holds its hash.
func (hd *hashDir) opened(f hashlink.LookupFile) {
	b := bucketOf(f.LinkName)
	switch {
	case f.Err != nil:
		why := strings.TrimPrefix(f.Err.Error(), filepath.Join(hd.dir, f.String())+": ") // the name is said once
		hd.rehash("hash link %s: %s; OpenSSL's lookup stops there", f.LinkName, why)
	case len(f.Found()) == 0:
		hd.rehash("hash link %s is stale: its %s has hash %s", f.LinkName, f.Objects[0].Kind, hashlink.FormatHash(f.Objects[0].Hash))
	default:
		hd.links[b] = append(hd.links[b], f.Info)
		hd.found[b] = append(hd.found[b], f.Found()...)
	}
}

// unopened notes a link the lookup did not open: dangling, or after the
// point where the lookup stops (which gaps reports).
func (hd *hashDir) unopened(n hashlink.LinkName) {
	path := filepath.Join(hd.dir, n.String())
	fi, err := os.Stat(path)
	if err != nil {
		target, _ := os.Readlink(path)
		hd.rehash("hash link %s points to %s, which does not exist", n, target)
		return
	}
	hd.links[bucketOf(n)] = append(hd.links[bucketOf(n)], fi)
}

// gaps reports, for each hash, the first link the lookup does not get to
// because a number before it is missing. Where the lookup stops at a
// file it cannot load, or at a dangling link, that is reported already.
func (hd *hashDir) gaps(opened []hashlink.LookupFile) {
	buckets := slices.SortedFunc(maps.Keys(hd.present), func(a, b hashlink.LinkName) int { return cmp.Compare(a.String(), b.String()) })
	for _, b := range buckets {
		missing, stopped := b, false // where the lookup stops, and whether at a file
		for _, f := range opened {
			if bucketOf(f.LinkName) == b {
				missing.ID, stopped = f.ID+1, f.Err != nil
			}
		}
		ids := slices.Sorted(slices.Values(hd.present[b]))
		if stopped || slices.Contains(ids, missing.ID) {
			continue
		}
		if i := slices.IndexFunc(ids, func(id uint16) bool { return id > missing.ID }); i >= 0 {
			at := b
			at.ID = ids[i]
			hd.rehash("hash link %s follows a gap (no %s): OpenSSL stops looking at the first missing number", at, missing)
		}
	}
}

// candidate checks a file `openssl rehash` reads: when it would link it,
// a link of its hash must lead to it, or to a file of the same
// certificate; a bundle's certificates need files of their own.
func (hd *hashDir) candidate(name string) {
	path := filepath.Join(hd.dir, name)
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	for _, fis := range hd.links {
		if slices.ContainsFunc(fis, func(l os.FileInfo) bool { return os.SameFile(l, fi) }) {
			return // linked (a gap before the link is reported on its own)
		}
	}
	data, err := pemfile.ReadFile(path)
	if err != nil {
		return
	}
	obj, err := hashlink.Classify(data)
	if err != nil {
		hd.bundle(name, path, data) // rehash skips it, and a bundle needs a word
		return
	}
	b := hashlink.LinkName{Hash: obj.Hash, CRL: obj.Kind == hashlink.CRL}
	if !hd.finds(b, obj) {
		hd.rehash("%s has no hash link %s (or later number) to it, so OpenSSL never finds it", name, b)
	}
}

// finds reports whether the lookup finds obj in bucket b, in any file.
func (hd *hashDir) finds(b hashlink.LinkName, obj *hashlink.Object) bool {
	return slices.ContainsFunc(hd.found[b], func(o *hashlink.Object) bool { return o.Fingerprint == obj.Fingerprint })
}

// bundle reports a file of several certificates when the lookup finds
// some of them in no file: a bundle is fine beside files of one
// certificate each that hold its certificates (a system store's bundle).
func (hd *hashDir) bundle(name, path string, data []byte) {
	infos, err := hashlink.ParseInfos(data)
	if err != nil {
		return
	}
	n, unlinked := 0, 0
	for _, in := range infos {
		if in.Cert == nil {
			continue
		}
		n++
		if !hd.finds(hashlink.LinkName{Hash: in.Cert.Hash}, in.Cert) {
			unlinked++
		}
	}
	if n > 1 && unlinked > 0 {
		hd.problems = append(hd.problems, fmt.Sprintf("%s holds %d certificates, %d of them in no file of their own; rehash (openssl's or certinit's) links only files that hold one, so OpenSSL never finds those: %s",
			name, n, unlinked, bundleFix(hd.dir, path)))
	}
}

// bundleFix is the command that puts the certificates of a bundle (file)
// in dir where OpenSSL's capath lookup finds them: the dir: store's
// rebuild, which splits it; but in this machine's system store, which a
// rebuild as dir: would turn into something else, trust install of the
// file, which adds its certificates one file each.
func bundleFix(dir, file string) string {
	if systemCertsDir(dir) {
		return fmt.Sprintf("run certinit trust install %s, which adds them to the system store one file each, then remove %s", file, file)
	}
	return fmt.Sprintf("run certinit trust rebuild --store dir:%s, which splits it into one file per certificate and links each", dir)
}

// systemRoot is where systemCertsDir looks for this machine's trust
// store: "/", or an OS tree in tests.
var systemRoot = "/"

// systemCertsDir reports whether dir is a directory of hash links of this
// machine's trust store.
func systemCertsDir(dir string) bool {
	s, err := truststore.Open(systemRoot, "auto", nil)
	if err != nil {
		return false
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	l := s.Layout()
	for _, d := range []string{l.CertsDir, l.HashDir, l.MirrorDir} {
		if di, err := os.Stat(filepath.Join(systemRoot, d)); d != "" && err == nil && os.SameFile(di, fi) {
			return true
		}
	}
	return false
}
