package truststore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/certinit/certinit/internal/pemfile"
	"golang.org/x/sys/unix"
)

// fsRoot maps paths of the OS tree under a root directory to host paths,
// resolving symbolic links as the OS inside would: an absolute link target
// starts again at the root, and ".." never climbs above it. Debian's
// /etc/ssl/certs links are absolute (/usr/share/ca-certificates/...), so a
// store under --root /tmp/x must never be read through the host's files.
type fsRoot struct {
	dir string // host path of the root, cleaned and absolute

	// Caches of one operation (see forget and changed): a store has a few
	// directories and hundreds of files, each reached through links, read
	// by the sources, then by the hash link planner and the bundle.
	mu    sync.Mutex
	dirs  map[string]string      // in-root directory -> resolved in-root path
	paths map[string]string      // in-root path -> resolved, last component followed
	files map[string]*cachedFile // host path -> content read in this operation
}

// cachedFile is a file's content and, once asked for, its certificates.
type cachedFile struct {
	data   []byte
	parsed bool
	certs  []*srcCert
	perr   error // why the file does not read as certificates
	hashed bool  // hash is set (by the parse, or on its own)
	hash   hashInfo
}

// maxLinks bounds symlink resolution, like the kernel's ELOOP limit.
const maxLinks = 40

var errLoop = errors.New("too many levels of symbolic links")

func newFSRoot(dir string) (*fsRoot, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s: not a directory", dir)
	}
	return &fsRoot{dir: abs}, nil
}

// host returns the host path of an already resolved in-root path.
func (r *fsRoot) host(p string) string {
	if r.dir == "/" {
		return p
	}
	return r.dir + p
}

// resolve returns the host path of in-root path p with every symbolic link
// in its directory part resolved inside the root, and the last component
// too when followLast is set. Missing components are fine: the rest of the
// path is appended as it is.
func (r *fsRoot) resolve(p string, followLast bool) (string, error) {
	rp, err := r.resolveInRoot(p, followLast)
	if err != nil {
		return "", err
	}
	return r.host(rp), nil
}

// resolveInRoot is resolve, returning the in-root path.
func (r *fsRoot) resolveInRoot(p string, followLast bool) (string, error) {
	if !followLast {
		return r.resolveN(p, false, 0)
	}
	r.mu.Lock()
	res, ok := r.paths[p]
	r.mu.Unlock()
	if ok {
		return res, nil
	}
	res, err := r.resolveN(p, true, 0)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if r.paths == nil {
		r.paths = map[string]string{}
	}
	r.paths[p] = res
	r.mu.Unlock()
	return res, nil
}

// resolveN resolves the directory part (cached: a store has a few
// directories and hundreds of files), then the last component. ".." is
// taken lexically, after the directory it follows has been resolved.
func (r *fsRoot) resolveN(p string, followLast bool, links int) (string, error) {
	clean := path.Clean("/" + p)
	if clean == "/" {
		return "/", nil
	}
	rdir, err := r.resolveDir(path.Dir(clean), links)
	if err != nil {
		return "", err
	}
	next := path.Join(rdir, path.Base(clean))
	if !followLast {
		return next, nil
	}
	fi, err := os.Lstat(r.host(next))
	if errors.Is(err, fs.ErrNotExist) {
		return next, nil
	}
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return next, nil
	}
	if links++; links > maxLinks {
		return "", fmt.Errorf("%s: %w", p, errLoop)
	}
	target, err := os.Readlink(r.host(next))
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(target, "/") {
		target = path.Join(rdir, target)
	}
	return r.resolveN(target, true, links)
}

func (r *fsRoot) resolveDir(dir string, links int) (string, error) {
	if dir == "/" {
		return "/", nil
	}
	r.mu.Lock()
	res, ok := r.dirs[dir]
	r.mu.Unlock()
	if ok {
		return res, nil
	}
	res, err := r.resolveN(dir, true, links)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if r.dirs == nil {
		r.dirs = map[string]string{}
	}
	r.dirs[dir] = res
	r.mu.Unlock()
	return res, nil
}

// forget drops cached directory resolutions and file contents: at the
// start of each operation (someone may have changed things since) and after
// certinit writes.
func (r *fsRoot) forget() {
	r.mu.Lock()
	r.dirs, r.paths, r.files = nil, nil, nil
	r.mu.Unlock()
}

// changed is forget after certinit itself made or removed links at the
// host paths hps: every resolution is redone, but the contents read from
// other files stay valid and are not read again.
func (r *fsRoot) changed(hps ...string) {
	r.mu.Lock()
	r.dirs, r.paths = nil, nil
	r.mu.Unlock()
	r.wrote(hps...)
}

// wrote drops the cached contents of regular files certinit replaced or
// created at the host paths hps. Resolutions stay: a regular file written
// where nothing or a regular file was (atomicfile never replaces anything
// else) changes no path's resolution.
func (r *fsRoot) wrote(hps ...string) {
	r.mu.Lock()
	for _, hp := range hps {
		delete(r.files, hp)
	}
	r.mu.Unlock()
}

// readFile reads an in-root file, following links inside the root. Within
// one operation each file is read once (the bundle sources, then the hash
// link planner, read the same files).
func (r *fsRoot) readFile(p string) ([]byte, error) {
	f, err := r.cached(p)
	if err != nil {
		return nil, err
	}
	return f.data, nil
}

// readCerts is readFile followed by splitting the file into certificates,
// each done once per operation and file: the sources of an install are
// read before and after it writes. The certificates are checked as far as
// openssl rehash reads them (their subject must hash) and parsed by
// crypto/x509 only when asked (srcCert.parsed). perr says why the file
// does not read as certificates; err is the read error.
func (r *fsRoot) readCerts(p string) (data []byte, certs []*srcCert, perr, err error) {
	f, err := r.cached(p)
	if err != nil {
		return nil, nil, nil, err
	}
	r.mu.Lock()
	done := f.parsed
	r.mu.Unlock()
	if !done {
		p := parsedFile(f.data)
		r.mu.Lock()
		f.certs, f.perr, f.parsed = p.certs, p.perr, true
		f.hash, f.hashed = p.hash, true
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return f.data, f.certs, f.perr, nil
}

// parsedFile is data split into certificates and hashed, as a cached file.
func parsedFile(data []byte) *cachedFile {
	blocks, berr := pemfile.Parse(data)
	hi := hashBlocks(data, blocks)
	certs, perr := lazyCerts(blocks, berr, hi)
	return &cachedFile{data: data, parsed: true, certs: certs, perr: perr, hashed: true, hash: hi}
}

// prefetch reads and parses the files dir/name into the cache on all CPUs
// (a distribution's store has about 150), so that the caller's loop over
// them, which keeps their order, its warnings and its errors, finds them
// ready. Each file is opened relative to its directory, resolved inside
// the root once, without following a link: a link, or any error, is left
// for that loop to meet through the ordinary resolution. The workers share
// nothing; their results go into the cache under one lock at the end (on
// a virtual machine a contended lock costs more than reading a file).
func (r *fsRoot) prefetch(dir string, names []string) {
	if len(names) < 32 || r.allCached(dir, names) {
		return
	}
	type job struct {
		p, res string // in-root path as given, and resolved
		fd     int
		base   string
		f      *cachedFile // nil: not read here
	}
	dirs := map[string]int{} // in-root directory -> open fd, -1 when it cannot be
	defer func() {
		for _, fd := range dirs {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	jobs := make([]job, 0, len(names))
	for _, n := range names {
		p := dir + "/" + n
		clean := path.Clean("/" + p)
		if clean == "/" {
			continue
		}
		d := path.Dir(clean)
		fd, ok := dirs[d]
		if !ok {
			fd = r.openDir(d)
			dirs[d] = fd
		}
		rd, err := r.resolveDir(d, 0) // cached by openDir
		if fd < 0 || err != nil {
			continue
		}
		base := path.Base(clean)
		jobs = append(jobs, job{p: p, res: path.Join(rd, base), fd: fd, base: base})
	}
	fetch := func(j *job) {
		hp := r.host(j.res)
		if fi, err := os.Lstat(hp); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			return // a link is resolved inside the root by the ordinary read
		}
		data, err := pemfile.ReadFile(hp)
		if err != nil {
			return
		}
		j.f = parsedFile(data)
	}
	workers := min(runtime.GOMAXPROCS(0), 4)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				fetch(&jobs[i])
			}
		})
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.paths == nil {
		r.paths = map[string]string{}
	}
	if r.files == nil {
		r.files = map[string]*cachedFile{}
	}
	for _, j := range jobs {
		if j.f == nil {
			continue
		}
		if res, ok := r.paths[j.p]; ok && res != j.res {
			continue
		}
		r.paths[j.p] = j.res // what resolveN gives a file that is not a link
		if hp := r.host(j.res); r.files[hp] == nil {
			r.files[hp] = j.f
		}
	}
}

// allCached reports whether every dir/name was read in this operation
// already (Install reads the sources again after writing its files).
func (r *fsRoot) allCached(dir string, names []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		if !r.isCachedLocked(dir + "/" + n) {
			return false
		}
	}
	return true
}

// stillCached reports whether every source's file is still in the cache
// as read: not written since (wrote drops what certinit writes, also when
// reached through a link or "..").
func (r *fsRoot) stillCached(srcs []source) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, src := range srcs {
		if !r.isCachedLocked(src.path) {
			return false
		}
	}
	return true
}

func (r *fsRoot) isCachedLocked(p string) bool {
	res, ok := r.paths[p]
	if !ok {
		return false
	}
	_, ok = r.files[r.host(res)]
	return ok
}

// openDir opens the in-root directory d, resolved inside the root, for
// prefetch; -1 when it cannot be.
func (r *fsRoot) openDir(d string) int {
	rd, err := r.resolveDir(d, 0)
	if err != nil {
		return -1
	}
	fd, err := unix.Open(r.host(rd), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// hashOf is hashData of an in-root file's content, from the parse readCerts
// made if there was one (a bundle in the directory is not parsed whole).
func (r *fsRoot) hashOf(p string) (hashInfo, error) {
	if hi, ok := r.hashHead(p); ok {
		return hi, nil
	}
	f, err := r.cached(p)
	if err != nil {
		return hashInfo{}, err
	}
	r.mu.Lock()
	hi, done := f.hash, f.hashed
	r.mu.Unlock()
	if !done {
		hi = hashData(f.data)
		r.mu.Lock()
		f.hash, f.hashed = hi, true
		r.mu.Unlock()
	}
	return hi, nil
}

// headSize is how much of a file not read yet hashHead reads first. A
// bundle's first two certificates are within it (they are 1-2 KiB each).
const headSize = 16 << 10

// hashHead is hashOf for a large file not read yet that holds several
// certificates, decided from its first complete lines (a distribution's
// bundle, 200 KiB, that openssl rehash skips for holding more than one):
// ok is false when that does not settle it. Two blocks that decode from
// complete lines at the start of a file decode the same way from the whole
// file, and hashData counts no further than two (FuzzHashHead holds this).
func (r *fsRoot) hashHead(p string) (hashInfo, bool) {
	hp, err := r.resolve(p, true)
	if err != nil {
		return hashInfo{}, false
	}
	r.mu.Lock()
	_, ok := r.files[hp]
	r.mu.Unlock()
	if ok {
		return hashInfo{}, false
	}
	head, err := pemfile.ReadFile(hp)
	whole := true
	if err != nil {
		return hashInfo{}, false // met again by the ordinary read
	}
	if whole { // a small file: keep it, as cached would
		r.mu.Lock()
		if r.files == nil {
			r.files = map[string]*cachedFile{}
		}
		if r.files[hp] == nil {
			r.files[hp] = &cachedFile{data: head}
		}
		r.mu.Unlock()
		return hashInfo{}, false
	}
	hi := hashData(completeLines(head))
	return hi, hi.n >= 2
}

// completeLines is data up to its last newline.
func completeLines(data []byte) []byte {
	return data[:bytes.LastIndexByte(data, '\n')+1]
}

func (r *fsRoot) cached(p string) (*cachedFile, error) {
	hp, err := r.resolve(p, true)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	f, ok := r.files[hp]
	r.mu.Unlock()
	if ok {
		return f, nil
	}
	data, err := pemfile.ReadFile(hp)
	if err != nil {
		return nil, err
	}
	f = &cachedFile{data: data}
	r.mu.Lock()
	if r.files == nil {
		r.files = map[string]*cachedFile{}
	}
	r.files[hp] = f
	r.mu.Unlock()
	return f, nil
}

// stat stats an in-root path, following links inside the root.
func (r *fsRoot) stat(p string) (fs.FileInfo, error) {
	hp, err := r.resolve(p, true)
	if err != nil {
		return nil, err
	}
	return os.Stat(hp)
}

// lstat stats an in-root path without following its last component.
func (r *fsRoot) lstat(p string) (fs.FileInfo, error) {
	hp, err := r.resolve(p, false)
	if err != nil {
		return nil, err
	}
	return os.Lstat(hp)
}

// readlink returns the text of an in-root symlink.
func (r *fsRoot) readlink(p string) (string, error) {
	hp, err := r.resolve(p, false)
	if err != nil {
		return "", err
	}
	return os.Readlink(hp)
}

// isFile reports whether p leads to a regular file, like `test -f`.
func (r *fsRoot) isFile(p string) bool {
	hp, err := r.resolve(p, true)
	if err != nil {
		return false
	}
	r.mu.Lock()
	_, read := r.files[hp] // read as a regular file in this operation
	r.mu.Unlock()
	if read {
		return true
	}
	fi, err := os.Stat(hp)
	return err == nil && fi.Mode().IsRegular()
}

// mkdirAll creates an in-root directory and its parents (0755).
func (r *fsRoot) mkdirAll(p string) error {
	hp, err := r.resolve(p, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(hp, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	return nil
}

// plainFiles lists the non-hidden regular files (or links to one) directly
// in an in-root directory, in name order; a missing directory is empty.
func (r *fsRoot) plainFiles(dir string) []string {
	hp, err := r.resolve(dir, true)
	if err != nil {
		return nil
	}
	ents, err := os.ReadDir(hp)
	if err != nil {
		return nil
	}
	var out []string
	for _, de := range ents {
		p := dir + "/" + de.Name()
		if !strings.HasPrefix(de.Name(), ".") && r.isFile(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
