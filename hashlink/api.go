// Package hashlink computes OpenSSL's subject-name hashes and maintains the
// HASH.N / HASH.rN links that OpenSSL's capath lookup uses, with the
// semantics of `openssl rehash` (OpenSSL 3).
//
// THIS FILE IS A PLACEHOLDER that fixes the API other packages build against;
// the implementation replaces it.
package hashlink

import (
	"errors"
	"log/slog"
)

var errTODO = errors.New("hashlink: not implemented yet")

// NameHash returns OpenSSL's X509_NAME_hash_ex of a DER-encoded Name: the first
// four bytes, little-endian, of the SHA-1 of the name's canonical encoding.
func NameHash(nameDER []byte) (uint32, error) { return 0, errTODO }

// NameHashOld returns OpenSSL's X509_NAME_hash_old: MD5 of the name's DER.
func NameHashOld(nameDER []byte) (uint32, error) { return 0, errTODO }

// SubjectHash returns the new-style hash of a DER certificate's subject.
func SubjectHash(certDER []byte) (uint32, error) { return 0, errTODO }

// Options control Rehash.
type Options struct {
	Old      bool // use the old (MD5) hash, like -old
	Compat   bool // create both new and old links, like -compat
	NoRemove bool // keep existing hash links, like -n
	Log      *slog.Logger
}

// Link is one hash link in a directory.
type Link struct {
	Name   string // e.g. "e6dddb6d.0"
	Target string // file name in the same directory
}

// Result says what Rehash did.
type Result struct {
	Links   []Link   // the hash links present afterwards, sorted by name
	Added   []Link   // links created or changed
	Removed []string // stale links removed
	Skipped []string // files skipped, with the reason logged as a warning
}

// Rehash brings dir's hash links in line with its certificates and CRLs.
func Rehash(dir string, opts Options) (*Result, error) { return nil, errTODO }
