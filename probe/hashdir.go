package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/atomicfile"
)

// hashLinkName matches the names `openssl rehash` gives links: HASH.N for
// certificates, HASH.rN for CRLs.
var hashLinkName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9a-f]{8})\.(r?)([0-9]+)$`) })

// linkableExts are the extensions `openssl rehash` links (see hashlink).
var linkableExts = map[string]bool{".pem": true, ".crt": true, ".cer": true, ".crl": true}

// hashDirProblems compares a capath directory's hash links with the
// certificates and CRLs in it: every file `openssl rehash` would link must
// be reachable through a link of its hash, every link must resolve to an
// object with the hash in its name, and numbering must have no gap (the
// lookup stops at the first missing number). It returns one sentence per
// problem.
func hashDirProblems(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	type linkInfo struct {
		name string
		fi   os.FileInfo
		fp   [20]byte
	}
	byPrefix := map[string][]linkInfo{} // "HASH." or "HASH.r" -> links
	numbers := map[string][]int{}
	var files []string
	for _, e := range ents {
		name := e.Name()
		if atomicfile.IsTemp(name) {
			continue
		}
		path := filepath.Join(dir, name)
		if m := hashLinkName().FindStringSubmatch(name); m != nil {
			prefix := m[1] + "." + m[2]
			var n int
			fmt.Sscan(m[3], &n)
			numbers[prefix] = append(numbers[prefix], n)
			fi, err := os.Stat(path)
			if err != nil {
				target, _ := os.Readlink(path)
				out = append(out, fmt.Sprintf("hash link %s points to %s, which does not exist", name, target))
				continue
			}
			obj, err := hashlink.HashFile(path)
			if err != nil {
				out = append(out, fmt.Sprintf("hash link %s: %v", name, err))
				continue
			}
			if want := hashlink.FormatHash(obj.Hash); want != m[1] || (m[2] == "r") != (obj.Kind == hashlink.CRL) {
				out = append(out, fmt.Sprintf("hash link %s is stale: its %s has hash %s", name, obj.Kind, want))
				continue
			}
			byPrefix[prefix] = append(byPrefix[prefix], linkInfo{name, fi, obj.Fingerprint})
			continue
		}
		if linkableExts[strings.ToLower(filepath.Ext(name))] {
			files = append(files, name)
		}
	}
	for _, name := range files {
		path := filepath.Join(dir, name)
		obj, err := hashlink.HashFile(path)
		if err != nil {
			continue // openssl rehash skips it too (bundle, key, not PEM)
		}
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		prefix := hashlink.FormatHash(obj.Hash) + "."
		if obj.Kind == hashlink.CRL {
			prefix += "r"
		}
		found := false
		for _, l := range byPrefix[prefix] {
			if os.SameFile(l.fi, fi) || l.fp == obj.Fingerprint {
				found = true
				break
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%s has no hash link %s0 (or later number) to it, so OpenSSL never finds it", name, prefix))
		}
	}
	var prefixes []string
	for p := range numbers {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		ns := numbers[p]
		sort.Ints(ns)
		for i, n := range ns {
			if n != i {
				out = append(out, fmt.Sprintf("hash link %s%d follows a gap (no %s%d): OpenSSL stops looking at the first missing number", p, n, p, i))
				break
			}
		}
	}
	return out
}
