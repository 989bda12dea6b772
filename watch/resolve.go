package watch

import (
	"os"
	"path/filepath"
	"strings"
)

// maxLinkHops bounds symlink resolution like the kernel's ELOOP limit
// (40 on Linux), so a link loop ends instead of spinning.
const maxLinkHops = 40

// trail is what resolving one path touched: the directories whose entries
// decide which bytes the path names, and the entries in them that matter.
//
// For certbot's live/example.com/cert.pem -> ../../archive/example.com/cert3.pem
// that is live/example.com (entry cert.pem: the link that certbot swaps) and
// archive/example.com (entry cert3.pem). For Kubernetes' tls.crt ->
// ..data/tls.crt, ..data -> ..2024_01_01_00_00_00.123 it is the mount
// directory (entries tls.crt and ..data, the link the kubelet renames over)
// and the timestamped directory. Watching directories, not files, is what
// makes these swaps visible: inotify reports nothing on a name that is only
// reached through a link, and a rename over a watched file drops its watch.
type trail struct {
	dirs  []string        // directories to watch, real paths, no duplicates
	names map[string]bool // full paths of entries whose events matter
	whole string          // set when the path itself is a directory: every entry matters
}

func (t *trail) add(dir, entry string) {
	found := false
	for _, d := range t.dirs {
		if d == dir {
			found = true
			break
		}
	}
	if !found {
		t.dirs = append(t.dirs, dir)
	}
	t.names[entry] = true
}

// resolve walks path one component at a time, the way the kernel does, and
// records every symlink met on the way together with the real directory
// holding it, and the directory holding the final entry. A missing component
// ends the walk at the deepest directory that exists, so its creation is
// seen. Components that are plain directories are not watched: renaming a
// parent of a certificate directory is left to the poll backstop.
func resolve(path string) trail {
	t := trail{names: map[string]bool{}}
	abs, err := filepath.Abs(path)
	if err != nil {
		return t
	}
	cur := "/"
	queue := splitPath(abs)
	hops := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case ".":
			continue
		case "..":
			// cur never contains a symlink, so ".." is plain string work,
			// exactly what the kernel does after following a link.
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			t.add(cur, next) // missing or unreadable: wait for it here
			return t
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			t.add(cur, next)
			hops++
			target, err := os.Readlink(next)
			if err != nil || hops > maxLinkHops {
				return t
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			queue = append(splitPath(target), queue...)
			continue
		}
		if len(queue) == 0 || !fi.IsDir() {
			t.add(cur, next)
			if fi.IsDir() {
				t.whole = next
				t.add(next, next)
			}
			return t
		}
		cur = next
	}
	// The path was "/" itself.
	t.whole = cur
	t.add(cur, cur)
	return t
}

// splitPath splits p into its non-empty components.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, string(filepath.Separator)) {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
