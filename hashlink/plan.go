package hashlink

import (
	"crypto/sha1"
	"fmt"
	"strconv"
)

// This file is the link planner: a model of `openssl rehash`'s bucket table
// (apps/rehash.c: add_entry, handle_symlink and the loop at the end of
// do_dir), fed in the same order OpenSSL feeds it, so that it assigns the
// same HASH.N numbers. It only decides; rehash.go does the file system work.

// maxCollisions is OpenSSL's MAX_COLLISIONS: at most 256 certificates (or
// CRLs) with one hash get links (HASH.0 ... HASH.255).
const maxCollisions = 256

// noID is the "no existing link" id, ~0 in an unsigned short in OpenSSL.
// A link named HASH.65535 therefore counts as no link at all there, too.
const noID = 0xffff

// linkType distinguishes certificate links (HASH.N) from CRL links (HASH.rN).
type linkType uint8

const (
	typeCert linkType = iota
	typeCRL
)

var suffixes = [...]string{typeCert: "", typeCRL: "r"}

type bucketKey struct {
	typ  linkType
	hash uint32
}

// entry is OpenSSL's HENTRY: one target file name within a bucket, with the
// lowest id of the existing links to it and whether a certificate or CRL
// file of that name needs a link.
type entry struct {
	target string
	oldID  uint16
	need   bool
	digest [sha1.Size]byte
}

// bucket is OpenSSL's BUCKET: the entries of one (type, hash), in the
// order they were first seen.
type bucket struct {
	key       bucketKey
	entries   []*entry
	numNeeded int
}

// planner holds the buckets in first-seen order.
type planner struct {
	buckets map[bucketKey]*bucket
	order   []*bucket
}

func newPlanner() *planner { return &planner{buckets: make(map[bucketKey]*bucket)} }

func (p *planner) bucket(k bucketKey) *bucket {
	b := p.buckets[k]
	if b == nil {
		b = &bucket{key: k}
		p.buckets[k] = b
		p.order = append(p.order, b)
	}
	return b
}

// addLink records an existing hash link (handle_symlink).
func (p *planner) addLink(k bucketKey, target string, id uint16) error {
	b := p.bucket(k)
	for _, e := range b.entries {
		if e.target == target {
			e.oldID = min(e.oldID, id)
			return nil
		}
	}
	if b.numNeeded >= maxCollisions {
		return fmt.Errorf("hash table overflow for %s", target)
	}
	b.entries = append(b.entries, &entry{target: target, oldID: id})
	return nil
}

// addFile records a certificate or CRL file that wants a link. It returns
// dup = true when an earlier file in the bucket has the same fingerprint.
func (p *planner) addFile(k bucketKey, name string, digest [sha1.Size]byte) (dup bool, err error) {
	b := p.bucket(k)
	var found *entry
	for _, e := range b.entries {
		if e.need && e.digest == digest {
			return true, nil
		}
		if e.target == name {
			found = e
		}
	}
	if found == nil {
		if b.numNeeded >= maxCollisions {
			return false, fmt.Errorf("more than %d certificates or CRLs with hash %08x", maxCollisions, k.hash)
		}
		found = &entry{target: name, oldID: noID}
		b.entries = append(b.entries, found)
	}
	if !found.need {
		found.need = true
		found.digest = digest
		b.numNeeded++
	}
	return false, nil
}

// linkName formats a link name as OpenSSL does ("%08x.%s%d").
func linkName(k bucketKey, id int) string {
	return FormatHash(k.hash) + "." + suffixes[k.typ] + strconv.Itoa(id)
}

// keyOf is the bucket a parsed link name belongs to.
func keyOf(n LinkName) bucketKey {
	if n.CRL {
		return bucketKey{typ: typeCRL, hash: n.Hash}
	}
	return bucketKey{typ: typeCert, hash: n.Hash}
}

// plannedLink is a link to create (or re-point) and plannedRemoval a name to
// unlink.
type plan struct {
	create []Link
	remove []string
}

// plan decides, bucket by bucket, as the end of OpenSSL's do_dir does: an
// entry whose existing link id is below the number of needed links keeps
// it; other needed entries get the lowest free ids in first-seen order;
// entries nobody needs lose their link unless keepAll.
//
// One deliberate difference, when keepAll is false: OpenSSL also keeps a
// link below that number whose target no longer needs it (a dangling link,
// a duplicate, a file that is no longer a certificate). Its capath lookup
// stops at the first HASH.N that does not load, so such a link hides every
// certificate numbered after it. Here it is not kept: its id is free for a
// needed entry, and it is removed if none takes it.
func (p *planner) plan(keepAll bool) plan {
	var out plan
	for _, b := range p.order {
		kept := func(e *entry) bool {
			return int(e.oldID) < b.numNeeded && (keepAll || e.need)
		}
		used := make([]bool, b.numNeeded+1)
		for _, e := range b.entries {
			if kept(e) {
				used[e.oldID] = true
			}
		}
		created := make(map[string]bool)
		next := 0
		for _, e := range b.entries {
			switch {
			case kept(e):
				// Link exists and is used as it is.
			case e.need:
				for next < len(used) && used[next] {
					next++
				}
				name := linkName(b.key, next)
				out.create = append(out.create, Link{Name: name, Target: e.target})
				created[name] = true
				if next < len(used) {
					used[next] = true
				}
			}
		}
		if keepAll {
			continue
		}
		for _, e := range b.entries {
			if !e.need && !kept(e) {
				if name := linkName(b.key, int(e.oldID)); !created[name] {
					out.remove = append(out.remove, name)
				}
			}
		}
	}
	return out
}
