package acme

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/dirlock"
	"github.com/certinit/certinit/internal/pemfile"
	"golang.org/x/crypto/acme/autocert"
)

// fileCache is an autocert.Cache in a directory, written through
// internal/atomicfile (0600 files in a 0700 directory) so that a planted
// symlink is refused rather than followed. autocert's own DirCache has its
// own writer; certinit keeps one.
type fileCache struct{ dir string }

var _ autocert.Cache = fileCache{}

func (c fileCache) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("cache %s: bad entry name %q", c.dir, name)
	}
	return filepath.Join(c.dir, name), nil
}

func (c fileCache) Get(_ context.Context, name string) ([]byte, error) {
	p, err := c.path(name)
	if err != nil {
		return nil, err
	}
	data, err := pemfile.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, autocert.ErrCacheMiss
	}
	return data, err
}

func (c fileCache) Put(_ context.Context, name string, data []byte) error {
	p, err := c.path(name)
	if err != nil {
		return err
	}
	if err := mkdirPrivate(c.dir); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, data, 0o600)
}

func (c fileCache) Delete(_ context.Context, name string) error {
	p, err := c.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// issueCache is the Cache one issuance round hands to its autocert.Manager.
//
// autocert returns a cached certificate whenever it is still valid, even
// inside the renewal window, and renews only from timers of its own. To
// renew when certinit decides, the round hides the certificates it is asked
// to replace (Get answers ErrCacheMiss), so GetCertificate orders new ones.
// Challenge tokens stay in memory: they live for seconds and concern no
// other process. After the round, retire makes the cache read-only: the
// Manager's leftover renewal timer may read, never write.
type issueCache struct {
	base fileCache

	mu      sync.Mutex
	hide    map[string]bool
	tokens  map[string][]byte
	retired bool
}

var _ autocert.Cache = (*issueCache)(nil)

func newIssueCache(base fileCache, hide []string) *issueCache {
	c := &issueCache{base: base, hide: map[string]bool{}, tokens: map[string][]byte{}}
	for _, k := range hide {
		c.hide[k] = true
	}
	return c
}

func isToken(name string) bool {
	return strings.HasSuffix(name, "+token") || strings.HasSuffix(name, "+http-01")
}

func (c *issueCache) Get(ctx context.Context, name string) ([]byte, error) {
	c.mu.Lock()
	if isToken(name) {
		defer c.mu.Unlock()
		if d, ok := c.tokens[name]; ok {
			return d, nil
		}
		return nil, autocert.ErrCacheMiss
	}
	hidden := c.hide[name] && !c.retired
	c.mu.Unlock()
	if hidden {
		return nil, autocert.ErrCacheMiss
	}
	return c.base.Get(ctx, name)
}

func (c *issueCache) Put(ctx context.Context, name string, data []byte) error {
	c.mu.Lock()
	if c.retired {
		c.mu.Unlock()
		return errRetired
	}
	if isToken(name) {
		c.tokens[name] = data
		c.mu.Unlock()
		return nil
	}
	delete(c.hide, name) // from now on the new certificate is the cached one
	c.mu.Unlock()
	return c.base.Put(ctx, name, data)
}

func (c *issueCache) Delete(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if isToken(name) {
		delete(c.tokens, name)
		return nil
	}
	if c.retired {
		return errRetired
	}
	return c.base.Delete(ctx, name)
}

func (c *issueCache) retire() {
	c.mu.Lock()
	c.retired = true
	c.mu.Unlock()
}

var errRetired = errors.New("issuance round is over")

// lockDir creates the cache directory and takes its lock
// (internal/dirlock), so two certinit processes sharing a cache (an init
// container and the main one) never order the same certificate twice or
// race on the local CA. It waits for the lock until ctx is done.
func lockDir(ctx context.Context, dir string, log *slog.Logger) (unlock func(), err error) {
	if err := mkdirPrivate(dir); err != nil {
		return nil, err
	}
	return dirlock.Lock(ctx, dir, log)
}

// mkdirPrivate creates dir 0700 (it holds keys) and any missing parents
// 0755, so that a private cache never makes the output directory beside it
// unreachable for the broker's user.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache %s: %w", dir, err)
	}
	return nil
}
