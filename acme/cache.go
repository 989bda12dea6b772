package acme

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/dirlock"
	"github.com/certinit/certinit/internal/pemfile"
)

// fileCache is the ACME issuer's part of the cache directory: one
// directory per CA directory URL with the account key, the current
// certificate and what the CA said about renewing it. Entries are written
// through internal/atomicfile (0600 files in a 0700 directory), so a
// planted symlink is refused rather than followed. A missing entry is an
// error wrapping fs.ErrNotExist.
type fileCache struct{ dir string }

func (c fileCache) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("cache %s: bad entry name %q", c.dir, name)
	}
	return filepath.Join(c.dir, name), nil
}

func (c fileCache) get(name string) ([]byte, error) {
	p, err := c.path(name)
	if err != nil {
		return nil, err
	}
	return pemfile.ReadFile(p)
}

func (c fileCache) put(name string, data []byte) error {
	p, err := c.path(name)
	if err != nil {
		return err
	}
	if err := mkdirPrivate(c.dir); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, data, 0o600)
}

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
