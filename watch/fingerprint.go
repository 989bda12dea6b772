package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/certinit/certinit/hashlink"
	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/userfile"
)

// fingerprint stands for a path's content: "missing", "unreadable: ..." or
// a SHA-256 in hex. Two scans that give the same fingerprint saw the same
// bytes, whatever happened to links, inodes and timestamps in between; that
// is what "act only when the content changed" compares. A file that cannot
// be read (a FIFO, a device, one too large) keeps one fingerprint while it
// stays so: it is reported when it appears, not at every scan.
type fingerprint string

const fpMissing fingerprint = "missing"

// fingerprintOf reads what path names now, following links. A directory's
// fingerprint covers the names and contents of the files in it (not of its
// subdirectories), skipping the hash links `openssl rehash` manages (they
// are derived from the directory's certificates: rehashing a watched
// directory must not look like a change and trigger itself again) and
// certinit's temporary files.
func fingerprintOf(path string) fingerprint {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fpMissing
	case err != nil:
		return unreadable(err)
	case fi.IsDir():
		return dirFingerprint(path)
	}
	sum, err := fileSum(path)
	if err != nil {
		return unreadable(err)
	}
	return fingerprint(hex.EncodeToString(sum))
}

func unreadable(err error) fingerprint {
	return fingerprint("unreadable: " + err.Error())
}

// fileSum hashes a file through the reader of every file a user names
// (internal/userfile), with the bound of certificate files: a FIFO, a
// device or an oversized file is an error that names it, never a read
// that blocks or does not end.
func fileSum(path string) ([]byte, error) {
	data, err := userfile.Read(path, pemfile.MaxFileSize)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return sum[:], nil
}

func dirFingerprint(dir string) fingerprint {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return unreadable(err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		n := e.Name()
		if atomicfile.IsTemp(n) || isRehashLink(e) {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		p := filepath.Join(dir, n)
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			fmt.Fprintf(h, "%s\x00dangling\x00", n)
		case fi.IsDir():
			// Subdirectories (Kubernetes' ..data and its timestamped
			// targets) are reached through the files that link into them.
			continue
		default:
			sum, err := fileSum(p)
			if err != nil {
				fmt.Fprintf(h, "%s\x00%v\x00", n, err)
				continue
			}
			fmt.Fprintf(h, "%s\x00%x\x00", n, sum)
		}
	}
	return fingerprint("dir:" + hex.EncodeToString(h.Sum(nil)))
}

// isRehashLink reports whether e is a symbolic link that `openssl rehash`
// (and certinit's) takes for one of its hash links.
func isRehashLink(e fs.DirEntry) bool {
	_, ok := hashlink.ParseLinkName(e.Name())
	return ok && e.Type()&fs.ModeSymlink != 0
}
