package truststore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/userfile"
)

// This file checks, before Install writes its first byte, what would make
// it fail halfway: a managed directory it may not write (a read-only mount,
// another owner), a planted link or directory where it writes a file, a
// file system without room for what it is about to add. Each is one error
// naming the directory or file, and the store is left exactly as it was.
// What cannot be foreseen (the disk filling up meanwhile) still fails
// safely: every write is atomic, new certificate files written before the
// failure are removed again (see Install), and links and bundle keep
// their last good state.

// blockSize is the allocation unit assumed for new files and links.
const blockSize = 4096

// preflight checks the managed directories and the files Install writes.
func (s *Store) preflight(files map[string][]byte) error {
	l := s.layout
	targets := []string{l.Bundle}
	for p := range files {
		targets = append(targets, p)
	}
	for _, p := range targets {
		fi, err := s.root.lstat(p)
		if err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: %w", p, atomicfile.Refusal(fi.Mode()))
		}
	}
	// What each file system must hold: the new certificate files, one
	// more copy of the bundle (the old one stays until the rename), a
	// per-certificate file in a p11-kit hash directory, and a link or two
	// per certificate (which may take a block each).
	added := 0
	for _, data := range files {
		added += len(data)
	}
	bundleSize := int64(added)
	if fi, err := s.root.stat(l.Bundle); err == nil {
		bundleSize += fi.Size()
	}
	type need struct {
		dir           string // host path
		bytes, inodes int64
	}
	needs := map[uint64]*need{}
	add := func(dir string, bytes, inodes int64) error {
		hp, dev, err := s.existingAncestor(dir)
		if err != nil {
			return err
		}
		if err := syscall.Access(hp, 2 /* W_OK */); err != nil {
			return fmt.Errorf("%s: cannot write there: %w", hp, err)
		}
		n := needs[dev]
		if n == nil {
			n = &need{dir: hp}
			needs[dev] = n
		}
		n.bytes += bytes
		n.inodes += inodes
		return nil
	}
	nFiles := int64(len(files))
	var fileBytes int64
	for _, data := range files {
		fileBytes += roundUp(int64(len(data)))
	}
	if err := add(l.LocalDir, fileBytes, nFiles); err != nil {
		return err
	}
	if err := add(path.Dir(l.Bundle), roundUp(bundleSize), 1); err != nil {
		return err
	}
	for _, d := range []string{l.CertsDir, l.MirrorDir} {
		if d != "" {
			if err := add(d, 2*nFiles*blockSize, 2*nFiles); err != nil {
				return err
			}
		}
	}
	if l.HashDir != "" {
		if err := add(l.HashDir, fileBytes+nFiles*blockSize, 2*nFiles); err != nil {
			return err
		}
	}
	for _, n := range needs {
		var st syscall.Statfs_t
		if err := syscall.Statfs(n.dir, &st); err != nil {
			continue // no figures: the writes will tell
		}
		free := int64(st.Bavail) * st.Bsize
		want := n.bytes + n.bytes/10 + 16<<10
		if free < want {
			return fmt.Errorf("%s: not enough free space: the install needs about %d KiB, %d KiB are free", n.dir, want>>10, free>>10)
		}
		if st.Files > 0 && int64(st.Ffree) < n.inodes+8 {
			return fmt.Errorf("%s: not enough free inodes: the install needs about %d, %d are free", n.dir, n.inodes+8, st.Ffree)
		}
	}
	return nil
}

func roundUp(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

// existingAncestor returns the host path and device of the nearest
// existing directory at or above the in-root directory dir.
func (s *Store) existingAncestor(dir string) (string, uint64, error) {
	for d := dir; ; d = path.Dir(d) {
		hp, err := s.root.resolve(d, true)
		if err != nil {
			return "", 0, err
		}
		fi, err := os.Stat(hp)
		switch {
		case err == nil && fi.IsDir():
			st, _ := fi.Sys().(*syscall.Stat_t)
			if st == nil {
				return hp, 0, nil
			}
			return hp, uint64(st.Dev), nil
		case err == nil:
			return "", 0, fmt.Errorf("%s: not a directory", d)
		case !errors.Is(err, fs.ErrNotExist):
			return "", 0, userfile.PathError(d, err)
		case d == "/":
			return "", 0, fmt.Errorf("root %w", userfile.PathError(s.root.dir, err))
		}
	}
}
