package probe

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/truststore"
)

// hashDirProblems compares a capath directory's hash links with the
// certificates and CRLs in it: every file `openssl rehash` would link must
// be reachable through a link of its hash, every link must resolve to an
// object with the hash in its name, and numbering must have no gap (the
// lookup stops at the first missing number). Links are the names OpenSSL's
// lookup opens (hashlink.IsLookupName), files the ones openssl rehash
// links (hashlink.IsCandidate). It returns one sentence per problem, each
// ending with the command that fixes it: a rehash for links, and for a
// file of several certificates (which no rehash links) the dir: store's
// rebuild, which splits it.
func hashDirProblems(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	rehash := func(format string, args ...any) {
		out = append(out, fmt.Sprintf(format, args...)+": run certinit rehash "+dir)
	}
	type linkInfo struct {
		fi os.FileInfo
		fp [20]byte
	}
	// Links by hash and kind (the name with number 0), and their numbers.
	links := map[hashlink.LinkName][]linkInfo{}
	numbers := map[hashlink.LinkName][]int{}
	var files []string
	for _, e := range ents {
		name := e.Name()
		if atomicfile.IsTemp(name) {
			continue
		}
		path := filepath.Join(dir, name)
		ln, ok := hashlink.ParseLinkName(name)
		if !ok || !hashlink.IsLookupName(name) {
			if hashlink.IsCandidate(name) {
				files = append(files, name)
			}
			continue
		}
		if ln.String() != name {
			continue // a number beyond 16 bits: no lookup counts that far
		}
		first := hashlink.LinkName{Hash: ln.Hash, CRL: ln.CRL}
		numbers[first] = append(numbers[first], int(ln.ID))
		fi, err := os.Stat(path)
		if err != nil {
			target, _ := os.Readlink(path)
			rehash("hash link %s points to %s, which does not exist", name, target)
			continue
		}
		obj, err := hashlink.HashFile(path)
		if err != nil {
			rehash("hash link %s: %v", name, err)
			continue
		}
		if obj.Hash != ln.Hash || ln.CRL != (obj.Kind == hashlink.CRL) {
			rehash("hash link %s is stale: its %s has hash %s", name, obj.Kind, hashlink.FormatHash(obj.Hash))
			continue
		}
		links[first] = append(links[first], linkInfo{fi, obj.Fingerprint})
	}
	for _, name := range files {
		path := filepath.Join(dir, name)
		data, err := pemfile.ReadFile(path)
		if err != nil {
			continue
		}
		objs, err := hashlink.ParseObjects(data)
		if n := countCerts(objs); err == nil && n > 1 {
			// A bundle is fine beside files of one certificate each that
			// hold its certificates (a system store's bundle).
			unlinked := 0
			for _, o := range objs {
				first := hashlink.LinkName{Hash: o.Hash, CRL: o.Kind == hashlink.CRL}
				if o.Kind != hashlink.CRL && !slices.ContainsFunc(links[first], func(l linkInfo) bool { return l.fp == o.Fingerprint }) {
					unlinked++
				}
			}
			if unlinked > 0 {
				out = append(out, fmt.Sprintf("%s holds %d certificates, %d of them in no file of their own; rehash (openssl's or certinit's) links only files that hold one, so OpenSSL never finds those: %s",
					name, n, unlinked, bundleFix(dir, path)))
			}
			continue
		}
		if err != nil || len(objs) != 1 {
			continue // openssl rehash skips it too (a key, not PEM)
		}
		obj := objs[0]
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		first := hashlink.LinkName{Hash: obj.Hash, CRL: obj.Kind == hashlink.CRL}
		found := slices.ContainsFunc(links[first], func(l linkInfo) bool {
			return os.SameFile(l.fi, fi) || l.fp == obj.Fingerprint
		})
		if !found {
			rehash("%s has no hash link %s (or later number) to it, so OpenSSL never finds it", name, first)
		}
	}
	firsts := make([]hashlink.LinkName, 0, len(numbers))
	for first := range numbers {
		firsts = append(firsts, first)
	}
	slices.SortFunc(firsts, func(a, b hashlink.LinkName) int { return cmp.Compare(a.String(), b.String()) })
	for _, first := range firsts {
		ns := numbers[first]
		slices.Sort(ns)
		for i, n := range ns {
			if n != i {
				at, missing := first, first
				at.ID, missing.ID = uint16(n), uint16(i)
				rehash("hash link %s follows a gap (no %s): OpenSSL stops looking at the first missing number", at, missing)
				break
			}
		}
	}
	return out
}

// countCerts counts the certificates among objs.
func countCerts(objs []*hashlink.Object) int {
	n := 0
	for _, o := range objs {
		if o.Kind != hashlink.CRL {
			n++
		}
	}
	return n
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
