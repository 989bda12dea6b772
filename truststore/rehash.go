package truststore

import (
	"bytes"
	"crypto/sha1"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/pemfile"
)

// planHashLinks updates the plan v with the OpenSSL hash links that
// `openssl rehash` (OpenSSL 3) would leave in the directory, computing the
// hashes with package hashlink. It works on the plan rather than on the
// disk because a store under --root has absolute links that only resolve
// inside the root, which hashlink.Rehash (working on a host directory)
// cannot follow.
//
// The rules, in openssl's order: names are processed in strcmp order;
// an existing link named HASH.N or HASH.rN records its target and N; a
// file (or other link) named *.pem, *.crt, *.cer or *.crl holding exactly
// one certificate or CRL in PEM needs a link, unless an earlier file in the
// same bucket has the same SHA-1 fingerprint. Per bucket, existing links
// whose number is below the number of needed links stay as they are, other
// needed ones get the lowest free numbers, and links no longer needed are
// removed.
//
// notCandidate names files that are never hashed although their extension
// says otherwise: the bundle of a dir: store (see dirEngine.sync).
func planHashLinks(v *vdir, notCandidate map[string]bool, log *slog.Logger) error {
	type entry struct {
		target      string
		oldID       int
		needSymlink bool
		digest      [sha1.Size]byte
	}
	type bucket struct {
		hash    uint32
		crl     bool
		entries []*entry
		needed  int
	}
	buckets := map[string]*bucket{}
	var order []*bucket
	get := func(h uint32, crl bool) *bucket {
		k := fmt.Sprintf("%08x/%t", h, crl)
		b := buckets[k]
		if b == nil {
			b = &bucket{hash: h, crl: crl}
			buckets[k] = b
			order = append(order, b)
		}
		return b
	}
	const noID = 1 << 16
	for _, name := range v.names() {
		e := v.next[name]
		if e.isLink() {
			if h, crl, id, ok := parseHashName(name); ok {
				b := get(h, crl)
				var found *entry
				for _, ep := range b.entries {
					if ep.target == e.link {
						found = ep
						break
					}
				}
				if found == nil {
					if b.needed >= maxCollisions {
						continue // openssl's "hash table overflow": the link is left out
					}
					found = &entry{target: e.link, oldID: noID}
					b.entries = append(b.entries, found)
				}
				found.oldID = min(found.oldID, id)
				continue
			}
		}
		if e.isDir || !hasRehashExt(name) || notCandidate[name] {
			continue
		}
		hi, err := v.hashEntry(name)
		if err != nil {
			continue // openssl skips what it cannot open
		}
		h, crl, digest := hi.h, hi.crl, hi.digest
		if !hi.ok {
			if hi.n > 1 {
				log.Debug("hash links: skipping file that does not hold exactly one certificate or CRL", "path", v.dir+"/"+name)
			}
			continue
		}
		b := get(h, crl)
		var found *entry
		dup := false
		for _, ep := range b.entries {
			if ep.needSymlink && ep.digest == digest {
				dup = true
				break
			}
			if ep.target == name {
				found = ep
			}
		}
		if dup {
			log.Debug("hash links: skipping duplicate certificate", "path", v.dir+"/"+name)
			continue
		}
		if found == nil {
			if b.needed >= maxCollisions {
				log.Warn("hash links: more than 256 certificates share one subject hash; OpenSSL's capath lookup reads at most 256, so this one gets no hash link (it stays in the bundle)",
					"path", v.dir+"/"+name, "hash", fmt.Sprintf("%08x", h))
				continue
			}
			found = &entry{target: name, oldID: noID}
			b.entries = append(b.entries, found)
		}
		if !found.needSymlink {
			found.needSymlink = true
			found.digest = digest
			b.needed++
		}
	}
	for _, b := range order {
		used := map[int]bool{}
		for _, ep := range b.entries {
			if ep.oldID < b.needed {
				used[ep.oldID] = true
			}
		}
		next := 0
		for _, ep := range b.entries {
			switch {
			case ep.oldID < b.needed:
				// kept as it is
			case ep.needSymlink:
				for used[next] {
					next++
				}
				v.setLink(hashName(b.hash, b.crl, next), ep.target)
				used[next] = true
			default:
				v.remove(hashName(b.hash, b.crl, ep.oldID))
			}
		}
	}
	return nil
}

// maxCollisions is openssl rehash's MAX_COLLISIONS: links HASH.0 to
// HASH.255 at most per hash.
const maxCollisions = 256

func hashName(h uint32, crl bool, id int) string {
	if crl {
		return fmt.Sprintf("%08x.r%d", h, id)
	}
	return fmt.Sprintf("%08x.%d", h, id)
}

// parseHashName recognises openssl's hash link names: eight hex digits, a
// dot, an optional r (CRL) and a decimal number.
func parseHashName(name string) (h uint32, crl bool, id int, ok bool) {
	if len(name) < 9 || name[8] != '.' {
		return 0, false, 0, false
	}
	v, err := strconv.ParseUint(name[:8], 16, 32)
	if err != nil || strings.ContainsAny(name[:8], "+-xX") {
		return 0, false, 0, false
	}
	rest := name[9:]
	if len(rest) > 0 && (rest[0] == 'r' || rest[0] == 'R') {
		crl, rest = true, rest[1:]
	}
	n := 0
	if rest != "" {
		u, err := strconv.ParseUint(rest, 10, 16)
		if err != nil {
			return 0, false, 0, false
		}
		n = int(u)
	}
	return uint32(v), crl, n, true
}

func isHashName(name string) bool {
	_, _, _, ok := parseHashName(name)
	return ok
}

// hasRehashExt: openssl rehash looks only at these extensions.
func hasRehashExt(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return false
	}
	switch strings.ToLower(name[i+1:]) {
	case "pem", "crt", "cer", "crl":
		return true
	}
	return false
}

// PEM types that make one X509_INFO each in PEM_X509_INFO_read.
var certPEMTypes = map[string]bool{"CERTIFICATE": true, "X509 CERTIFICATE": true, "TRUSTED CERTIFICATE": true}

const crlPEMType = "X509 CRL"

// pemObjects returns the first certificate or CRL block of PEM data and
// how many there are, counting up to 2: the planner only needs to tell one
// from several, and a bundle in the directory holds hundreds.
func pemObjects(data []byte) (first *pem.Block, n int) {
	for n < 2 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if certPEMTypes[b.Type] || b.Type == crlPEMType {
			if n == 0 {
				first = b
			}
			n++
		}
	}
	return first, n
}

// hashInfo is what the hash link planner needs of a candidate file: how
// many certificates and CRLs it holds in PEM (up to 2) and, when exactly
// one, its bucket and SHA-1 digest (ok).
type hashInfo struct {
	h      uint32
	crl    bool
	digest [sha1.Size]byte
	ok     bool
	n      int
}

// hashData returns the hash link bucket of PEM data holding exactly one
// certificate (subject hash) or CRL (issuer hash), and its SHA-1 digest.
func hashData(data []byte) hashInfo {
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return hashInfo{}
	}
	b, n := pemObjects(data)
	if n != 1 {
		return hashInfo{n: n}
	}
	return hashObject(b.Type, b.Bytes)
}

// hashBlocks is hashData for data already split by pemfile.Parse, which
// decodes the same blocks in the same order (blocks is what it returned,
// with or without an error).
func hashBlocks(data []byte, blocks []pemfile.Block) hashInfo {
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return hashInfo{}
	}
	var first *pemfile.Block
	n := 0
	for i := range blocks {
		if t := blocks[i].Type; certPEMTypes[t] || t == crlPEMType {
			if n == 0 {
				first = &blocks[i]
			}
			if n++; n == 2 {
				break
			}
		}
	}
	if n != 1 {
		return hashInfo{n: n}
	}
	return hashObject(first.Type, first.DER)
}

// hashObject hashes one certificate or CRL block.
func hashObject(typ string, der []byte) hashInfo {
	hi := hashInfo{n: 1}
	var err error
	if certPEMTypes[typ] {
		der = firstTLV(der) // TRUSTED CERTIFICATE appends trust data
		hi.h, err = hashlink.SubjectHash(der)
		hi.digest = sha1.Sum(der)
	} else {
		var issuer []byte
		issuer, err = crlIssuer(der)
		if err == nil {
			hi.h, err = hashlink.NameHash(issuer)
		}
		hi.crl, hi.digest = true, sha1.Sum(der)
	}
	hi.ok = err == nil
	return hi
}
