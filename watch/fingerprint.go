package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"

	"github.com/certinit/certinit/internal/atomicfile"
)

// fingerprint stands for a path's content: "missing", "unreadable: ..." or
// a SHA-256 in hex. Two scans that give the same fingerprint saw the same
// bytes, whatever happened to links, inodes and timestamps in between; that
// is what "act only when the content changed" compares.
type fingerprint string

const fpMissing fingerprint = "missing"

// hashLinkName matches the links `openssl rehash` (and certinit's rehash)
// keep in a capath directory: HASH.N for certificates, HASH.rN for CRLs.
// They are derived from the directory's certificates, so a directory's
// fingerprint leaves them out: rehashing a watched directory must not look
// like a new change and trigger itself again. Compiled on first use, not
// at start-up: every regexp compiled in a package init delays every
// container start (see docs/run.md, "Measured").
var hashLinkName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{8}\.r?[0-9]+$`) })

// fingerprintOf reads what path names now, following links. A directory's
// fingerprint covers the names and contents of the files in it (not of its
// subdirectories), skipping hash links and certinit's temporary files.
func fingerprintOf(path string) fingerprint {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fpMissing
	}
	if err != nil {
		return unreadable(err)
	}
	if fi.IsDir() {
		return dirFingerprint(path)
	}
	sum, err := fileSum(path, fi)
	if err != nil {
		return unreadable(err)
	}
	return fingerprint(hex.EncodeToString(sum))
}

func unreadable(err error) fingerprint {
	return fingerprint("unreadable: " + err.Error())
}

// fileSum hashes a regular file. Anything else (a FIFO, a device) is not
// opened, since reading it could block or never end.
func fileSum(path string, fi fs.FileInfo) ([]byte, error) {
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func dirFingerprint(dir string) fingerprint {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return unreadable(err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		n := e.Name()
		if atomicfile.IsTemp(n) || (e.Type()&fs.ModeSymlink != 0 && hashLinkName().MatchString(n)) {
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
			sum, err := fileSum(p, fi)
			if err != nil {
				fmt.Fprintf(h, "%s\x00%v\x00", n, err)
				continue
			}
			fmt.Fprintf(h, "%s\x00%x\x00", n, sum)
		}
	}
	return fingerprint("dir:" + hex.EncodeToString(h.Sum(nil)))
}
