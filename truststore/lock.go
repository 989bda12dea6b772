package truststore

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/dirlock"
)

// An operation that writes the store (Install, Remove, Rebuild) holds
// these directory locks (internal/dirlock), always taken in this order:
//
//  1. the root directory, which serialises every writing operation on
//     the store;
//  2. each directory the store keeps hash links in (the layout's
//     CertsDir, HashDir, MirrorDir; a dir: store's directory), in that
//     order. `certinit rehash DIR` locks DIR too, so a rehash and a trust
//     operation on one directory run one after the other.
//
// Nothing can deadlock: every trust operation takes the root first, so
// two of them never hold hash directories while waiting for each other,
// and a rehash holds its one directory without waiting for any other
// lock. A directory that is the root itself, or one of the operation
// holds already (reached by another path), is not locked twice: flock
// makes even its own process wait for a second lock. A hash directory
// that does not exist yet is locked once the operation has created it,
// before it writes there (lockHashDirs with create).

// held are the directory locks of one operation.
type held struct {
	ctx    context.Context
	log    *slog.Logger
	dirs   []os.FileInfo // the directories locked, to compare by inode
	unlock []func()
}

// lock locks the existing host directory hp unless the operation holds it.
func (h *held) lock(hp string) error {
	fi, err := os.Stat(hp)
	if err != nil {
		return err
	}
	for _, d := range h.dirs {
		if os.SameFile(d, fi) {
			return nil
		}
	}
	unlock, err := dirlock.Lock(h.ctx, hp, h.log)
	if err != nil {
		return err
	}
	h.dirs = append(h.dirs, fi)
	h.unlock = append(h.unlock, unlock)
	return nil
}

// release drops every lock, the last taken first.
func (h *held) release() {
	for i := len(h.unlock) - 1; i >= 0; i-- {
		h.unlock[i]()
	}
}

// begin starts a writing operation: it locks the root and the hash
// directories that exist, then removes the temporary files a crashed run
// left in the managed directories (under the locks, so that no running
// writer's temporary file is taken).
func (s *Store) begin(ctx context.Context) (*held, error) {
	h := &held{ctx: ctx, log: s.log}
	if err := h.lock(s.root.dir); err != nil {
		return nil, err
	}
	if err := s.lockHashDirs(h, false); err != nil {
		h.release()
		return nil, err
	}
	for _, d := range s.layout.managedDirs() {
		hp, err := s.root.resolve(d, true)
		if err != nil {
			continue
		}
		if err := atomicfile.CleanTemps(hp); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("cannot clean temporary files", "path", d, "err", err)
		}
	}
	return h, nil
}

// lockHashDirs locks the store's hash directories not locked yet; with
// create, a missing one is created first, else it is left for later.
func (s *Store) lockHashDirs(h *held, create bool) error {
	for _, d := range s.layout.hashDirs() {
		if create {
			if err := s.root.mkdirAll(d); err != nil {
				return err
			}
		}
		hp, err := s.root.resolve(d, true)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(hp); err != nil || !fi.IsDir() {
			continue // nothing there to lock yet
		}
		if err := h.lock(hp); err != nil {
			return err
		}
	}
	return nil
}
