// Package hashlink computes OpenSSL's subject-name hashes and maintains the
// HASH.N / HASH.rN links that OpenSSL's capath lookup uses, with the
// semantics of `openssl rehash` (OpenSSL 3).
//
// Hashes: NameHash is X509_NAME_hash_ex (SHA-1 of the canonical encoding,
// see canon.go), NameHashOld is X509_NAME_hash_old (MD5 of the DER).
// SubjectHash, IssuerHash, ParseCertificate, ParseCRL and HashFile parse
// certificates and CRLs themselves, leniently where OpenSSL is lenient, so
// that certificates crypto/x509 refuses but OpenSSL loads are hashed and
// linked too; and strictly where OpenSSL is strict, so that nothing OpenSSL
// cannot load gets a link.
//
// OpenSSL's rules for a hash directory live here and nowhere else:
// which files `openssl rehash` reads (IsCandidate), which names it manages
// as hash links (ParseLinkName), which names the capath lookup opens
// (IsLookupName), what it makes of a file's bytes (Classify) and which
// links it makes, keeps and removes (Planner, with OpenSSL's numbering,
// duplicates, stale links and its limit of 256 objects per hash).
// truststore plans the links of its stores with the same Planner. What the
// capath lookup finds, how far it reads and where it stops (Lookup,
// LookupDir) is here too, for verify, probe and runner; and so is the
// reader with which OpenSSL loads a cafile (ParseInfos).
//
// Rehash makes the link set `openssl rehash DIR` makes, with two
// deliberate differences: it logs a warning for every candidate file it
// skips (OpenSSL is silent for most), and it never removes a link before
// its replacement exists (links are created under a temporary name and
// renamed into place). See docs/hash.md.
//
// Rehash reads only regular files of at most 64 MiB: a FIFO planted as
// x.pem (on which openssl rehash blocks forever) or a huge file is skipped
// with a warning, unread. Runs on one directory, and trust-store operations
// on it, are serialised by its lock (internal/dirlock); a run that finds
// the disk full stops at the first link it cannot make and reports it once.
//
// It is not for verifying certificates or chains, and it does not read DER
// files in Rehash: OpenSSL's capath lookup reads PEM only, so a link to a
// DER file would break the lookup chain.
package hashlink

import "log/slog"

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
