package hashlink

import (
	"crypto/sha1"
	"errors"
	"fmt"
)

// This file is the link planner: `openssl rehash`'s bucket table
// (apps/rehash.c: add_entry, handle_symlink and the loop at the end of
// do_dir). Fed a directory's entries in the order OpenSSL reads them, it
// assigns the same HASH.N numbers, keeps the same old links and removes the
// same stale ones. It only decides: Rehash and truststore change the
// directory.

// MaxCollisions is OpenSSL's MAX_COLLISIONS: at most 256 certificates (or
// CRLs) with one hash get links.
const MaxCollisions = 256

// ErrTooManyCollisions is wrapped by the error for a file that would be the
// 257th certificate or CRL with one hash (OpenSSL's "hash table overflow"):
// it gets no link there.
var ErrTooManyCollisions = errors.New("more than 256 certificates or CRLs with one hash")

// noID is the "no existing link" id, ~0 in an unsigned short in OpenSSL.
// A link named HASH.65535 therefore counts as no link at all there, too.
const noID = 0xffff

type bucketKey struct {
	hash uint32
	crl  bool
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

// bucket is OpenSSL's BUCKET: the entries of one (hash, type), in the
// order they were first seen.
type bucket struct {
	key       bucketKey
	entries   []*entry
	numNeeded int
}

// Planner decides a directory's hash links as `openssl rehash` does. Feed
// it the directory's entries in byte order of their names (as OpenSSL sorts
// them): AddLink for each symbolic link whose name ParseLinkName accepts,
// AddFile for each candidate file (IsCandidate) that Classify links. Plan
// then says which links to make and which to remove. The zero Planner
// names links by the new hash; set Old or Compat before the first AddFile.
type Planner struct {
	Old    bool // name links by the old (MD5) hash, like -old
	Compat bool // make links by both hashes, like -compat

	buckets map[bucketKey]*bucket
	order   []*bucket
}

func (p *Planner) bucket(k bucketKey) *bucket {
	b := p.buckets[k]
	if b == nil {
		if p.buckets == nil {
			p.buckets = make(map[bucketKey]*bucket)
		}
		b = &bucket{key: k}
		p.buckets[k] = b
		p.order = append(p.order, b)
	}
	return b
}

// AddLink records an existing hash link named n that points at target
// (handle_symlink). The error wraps ErrTooManyCollisions when 256 files
// with that hash were added before and the target is not one of them:
// OpenSSL then leaves the link out of the table, so it is neither kept nor
// removed, and reports it without counting it as a failure.
func (p *Planner) AddLink(n LinkName, target string) error {
	b := p.bucket(bucketKey{hash: n.Hash, crl: n.CRL})
	for _, e := range b.entries {
		if e.target == target {
			e.oldID = min(e.oldID, n.ID)
			return nil
		}
	}
	if b.numNeeded >= MaxCollisions {
		return fmt.Errorf("link %s to %s: %w", n, target, ErrTooManyCollisions)
	}
	b.entries = append(b.entries, &entry{target: target, oldID: n.ID})
	return nil
}

// AddFile records the candidate file name holding obj, for each hash the
// Planner names links by. dup is true when a file added earlier holds the
// same certificate or CRL (same SHA-1 fingerprint): OpenSSL skips it with a
// warning. The error wraps ErrTooManyCollisions when 256 other files with
// that hash were added before: the file gets no link by that hash, and
// OpenSSL counts it as a failure.
func (p *Planner) AddFile(name string, obj *Object) (dup bool, err error) {
	var hashes []uint32
	if !p.Old || p.Compat {
		hashes = append(hashes, obj.Hash)
	}
	if p.Old || p.Compat {
		hashes = append(hashes, obj.HashOld)
	}
	var errs []error
	for _, h := range hashes {
		d, err := p.addFile(bucketKey{hash: h, crl: obj.Kind == CRL}, name, obj.Fingerprint)
		dup = dup || d
		if err != nil {
			errs = append(errs, err)
		}
	}
	return dup, errors.Join(errs...)
}

// addFile is add_entry for a file that needs a link.
func (p *Planner) addFile(k bucketKey, name string, digest [sha1.Size]byte) (dup bool, err error) {
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
		if b.numNeeded >= MaxCollisions {
			return false, fmt.Errorf("hash %s: %w", FormatHash(k.hash), ErrTooManyCollisions)
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

// Plan is what a directory's hash links need: links to make (or re-point),
// then names to remove, in OpenSSL's order.
type Plan struct {
	Create []Link
	Remove []string
}

// Plan decides, bucket by bucket, as the end of OpenSSL's do_dir does:
//   - an entry whose existing link number is below the number of files
//     that need a link keeps its link as it is, whatever it points at;
//   - every other file that needs a link gets the lowest number not kept
//     or given yet, in first-seen order (it may replace what has that
//     name);
//   - every other existing link is removed, unless noRemove (-n).
//
// OpenSSL carries these out one after the other, so a name given to a file
// and later removed as another entry's stale link ends up removed; the
// Plan holds the final outcome for each name.
//
// A kept link may be dangling or point at a file that no longer needs it:
// OpenSSL keeps it, and its capath lookup, which stops at the first HASH.N
// that does not load, then misses the files numbered after it.
func (p *Planner) Plan(noRemove bool) Plan {
	var out Plan
	for _, b := range p.order {
		used := make(map[int]bool)
		for _, e := range b.entries {
			if int(e.oldID) < b.numNeeded {
				used[int(e.oldID)] = true
			}
		}
		final := make(map[string]string) // name -> target, "" for removed
		var names []string
		set := func(name, target string) {
			if _, ok := final[name]; !ok {
				names = append(names, name)
			}
			final[name] = target
		}
		next := 0
		for _, e := range b.entries {
			switch {
			case int(e.oldID) < b.numNeeded:
				// The link exists and is used as it is.
			case e.need:
				for used[next] {
					next++
				}
				used[next] = true
				set(LinkName{Hash: b.key.hash, CRL: b.key.crl, ID: uint16(next)}.String(), e.target)
			case !noRemove:
				set(LinkName{Hash: b.key.hash, CRL: b.key.crl, ID: e.oldID}.String(), "")
			}
		}
		for _, name := range names {
			if t := final[name]; t != "" {
				out.Create = append(out.Create, Link{Name: name, Target: t})
			} else {
				out.Remove = append(out.Remove, name)
			}
		}
	}
	return out
}
