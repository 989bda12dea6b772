package truststore

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// family is how a distribution's own tool turns sources into the store.
type family int

const (
	// familyDebian: update-ca-certificates (shell script, Debian/Ubuntu).
	// Sources: the certificates listed in ConfFile (relative to SystemDir)
	// in file order, then every *.crt under LocalDir (recursively, sorted).
	// Output: CertsDir/NAME.pem symlinks to the sources (absolute targets),
	// OpenSSL hash links to those, and the concatenated Bundle.
	familyDebian family = iota
	// familyAlpine: Alpine's update-ca (C). Like Debian, but links are
	// named ca-cert-NAME.pem, LocalDir is flat and every non-hidden file in
	// it is a source, and files are copied into the bundle as they are.
	// Hash links come from its certhash hook (c_rehash).
	familyAlpine
	// familyP11Kit: update-ca-trust (Fedora/RHEL, Arch) and SUSE's
	// update-ca-certificates, all of which run `trust extract`. Sources:
	// every TrustPaths entry's anchors/ (trusted), blocklist/ and blacklist/
	// (distrusted) and .p11-kit files in it. Output: Bundle (server-auth
	// anchors) and HashDir (one file per anchor plus hash links, p11-kit's
	// pem-directory-hash), optionally mirrored as links in MirrorDir.
	familyP11Kit
	// familyDir: a plain directory for a server's capath: one PEM file per
	// certificate, hash links to them and a bundle file, all in LocalDir.
	familyDir
)

// compatLink is a symlink a distribution package normally ships (for
// example RHEL's /etc/pki/tls/certs/ca-bundle.crt); certinit creates it
// only when nothing is there, so that programs find the bundle in a
// store certinit had to create from nothing.
type compatLink struct{ Path, Target string }

// Layout describes where one distribution keeps its trust store. All
// paths are absolute paths inside the root (as the OS inside sees them).
type Layout struct {
	Name   string
	family family

	// LocalDir is where install writes one file per certificate, named
	// NAME+LocalExt; remove deletes from there.
	LocalDir string
	LocalExt string

	// Debian and Alpine.
	ConfFile   string // list of SystemDir certificates to trust
	SystemDir  string // distribution-provided certificates
	CertsDir   string // NAME.pem links and hash links
	LinkPrefix string // prefix of the NAME.pem links ("ca-cert-" on Alpine)

	// Bundle is the concatenated PEM file (every family).
	Bundle string

	// p11-kit family.
	TrustPaths []string // p11-kit trust paths, in priority order
	HashDir    string   // pem-directory-hash output
	MirrorDir  string   // directory that links to every HashDir entry

	// Compat lists symlinks created when missing.
	Compat []compatLink

	// Detection: os-release ID or ID_LIKE values, and a path whose presence
	// marks the layout when os-release says nothing useful.
	osIDs  []string
	marker string
}

// layouts is the table of known stores. Sources: Debian's
// /usr/sbin/update-ca-certificates, Alpine's update-ca.c, Fedora's
// update-ca-trust, openSUSE's update-ca-certificates hooks (certbundle.run,
// etc_ssl.run), Arch's update-ca-trust; trust paths are the ones each
// distribution builds p11-kit with (--with-trust-paths).
var layouts = []*Layout{
	{
		// Debian, Ubuntu and their derivatives; also what Go's crypto/x509
		// and OpenSSL look for first, so it is the layout for empty roots.
		Name: "debian", family: familyDebian,
		LocalDir: "/usr/local/share/ca-certificates", LocalExt: ".crt",
		ConfFile:  "/etc/ca-certificates.conf",
		SystemDir: "/usr/share/ca-certificates",
		CertsDir:  "/etc/ssl/certs",
		Bundle:    "/etc/ssl/certs/ca-certificates.crt",
		osIDs:     []string{"debian", "ubuntu"},
		marker:    "/usr/share/ca-certificates",
	},
	{
		// Alpine: /etc/ssl/cert.pem is a link to the bundle
		// (ca-certificates-bundle), which is all a base image has.
		Name: "alpine", family: familyAlpine,
		LocalDir: "/usr/local/share/ca-certificates", LocalExt: ".crt",
		ConfFile:   "/etc/ca-certificates.conf",
		SystemDir:  "/usr/share/ca-certificates",
		CertsDir:   "/etc/ssl/certs",
		LinkPrefix: "ca-cert-",
		Bundle:     "/etc/ssl/certs/ca-certificates.crt",
		Compat:     []compatLink{{"/etc/ssl/cert.pem", "certs/ca-certificates.crt"}},
		osIDs:      []string{"alpine"},
		marker:     "/etc/apk",
	},
	{
		// Fedora, RHEL, CentOS, Rocky, Alma, Amazon Linux. OpenSSL there
		// reads /etc/pki/tls/cert.pem and /etc/pki/tls/certs; both lead to
		// the extracted tls-ca-bundle.pem.
		Name: "rhel", family: familyP11Kit,
		LocalDir: "/etc/pki/ca-trust/source/anchors", LocalExt: ".pem",
		TrustPaths: []string{"/etc/pki/ca-trust/source", "/usr/share/pki/ca-trust-source"},
		Bundle:     "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		HashDir:    "/etc/pki/ca-trust/extracted/pem/directory-hash",
		Compat: []compatLink{
			{"/etc/pki/tls/certs/ca-bundle.crt", "../../ca-trust/extracted/pem/tls-ca-bundle.pem"},
			{"/etc/pki/tls/cert.pem", "../ca-trust/extracted/pem/tls-ca-bundle.pem"},
		},
		osIDs:  []string{"fedora", "rhel", "centos", "rocky", "almalinux", "amzn", "ol"},
		marker: "/etc/pki/ca-trust",
	},
	{
		// openSUSE and SLES: /etc/ssl/certs is a link to the pem directory.
		Name: "suse", family: familyP11Kit,
		LocalDir: "/etc/pki/trust/anchors", LocalExt: ".pem",
		TrustPaths: []string{"/etc/pki/trust", "/usr/share/pki/trust"},
		Bundle:     "/var/lib/ca-certificates/ca-bundle.pem",
		HashDir:    "/var/lib/ca-certificates/pem",
		Compat: []compatLink{
			{"/etc/ssl/ca-bundle.pem", "../../var/lib/ca-certificates/ca-bundle.pem"},
			{"/etc/ssl/certs", "../../var/lib/ca-certificates/pem"},
		},
		osIDs:  []string{"suse", "opensuse", "sles"},
		marker: "/etc/pki/trust",
	},
	{
		// Arch and derivatives: the extracted cadir is linked into
		// /etc/ssl/certs, where OpenSSL looks.
		Name: "arch", family: familyP11Kit,
		LocalDir: "/etc/ca-certificates/trust-source/anchors", LocalExt: ".crt",
		TrustPaths: []string{"/etc/ca-certificates/trust-source", "/usr/share/ca-certificates/trust-source"},
		Bundle:     "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
		HashDir:    "/etc/ca-certificates/extracted/cadir",
		MirrorDir:  "/etc/ssl/certs",
		Compat: []compatLink{
			{"/etc/ssl/certs/ca-certificates.crt", "../../ca-certificates/extracted/tls-ca-bundle.pem"},
			{"/etc/ssl/cert.pem", "../ca-certificates/extracted/tls-ca-bundle.pem"},
		},
		osIDs:  []string{"arch", "archarm", "manjaro", "endeavouros"},
		marker: "/etc/ca-certificates/trust-source",
	},
}

// LayoutByName returns the layout for a --store value other than auto: a
// table name or dir:PATH. PATH is a path inside root; a relative PATH is
// relative to the current directory, which is a path inside root only
// when root is "/" (or ""): with another root it is an error, since either
// reading would surprise someone. A PATH that is the root directory itself
// is an error too: a capath needs a directory of its own.
func LayoutByName(root, spec string) (*Layout, error) {
	if p, ok := strings.CutPrefix(spec, "dir:"); ok {
		if p == "" {
			return nil, fmt.Errorf("store %q: dir: needs a path", spec)
		}
		if !path.IsAbs(p) {
			if !isSlash(root) {
				return nil, fmt.Errorf("store %q: a relative path with root %s: give an absolute path inside the root (dir:/%s)", spec, root, path.Clean(p))
			}
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, fmt.Errorf("store %q: %w", spec, err)
			}
			p = abs
		}
		p = path.Clean(p)
		if p == "/" {
			return nil, fmt.Errorf("store %q: that is the root directory itself; a dir: store needs a directory of its own", spec)
		}
		return &Layout{
			Name: "dir:" + p, family: familyDir,
			LocalDir: p, LocalExt: ".pem",
			CertsDir: p,
			Bundle:   path.Join(p, dirBundleName),
		}, nil
	}
	for _, l := range layouts {
		if l.Name == spec {
			return l, nil
		}
	}
	return nil, fmt.Errorf("unknown store %q: use auto, debian, alpine, rhel, suse, arch or dir:PATH", spec)
}

// isSlash reports whether root is the running system's root directory.
func isSlash(root string) bool {
	if root == "" {
		return true
	}
	abs, err := filepath.Abs(root)
	return err == nil && abs == "/"
}

// detect picks the layout of the OS tree under root: os-release first
// (ID, then ID_LIKE), then marker directories, and Debian's layout for an
// empty or unknown tree (scratch, distroless): it is where Go and OpenSSL
// look by default.
func detect(r *fsRoot) *Layout {
	ids := osReleaseIDs(r)
	for _, id := range ids {
		for _, l := range layouts {
			for _, want := range l.osIDs {
				if id == want || strings.HasPrefix(id, want+"-") {
					return l
				}
			}
		}
	}
	for _, l := range layouts[1:] {
		if r.exists(l.marker) {
			return l
		}
	}
	return layouts[0]
}

// osReleaseIDs returns ID followed by the ID_LIKE words of the tree's
// os-release file (lower case), or nothing.
func osReleaseIDs(r *fsRoot) []string {
	var data []byte
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if b, err := r.readFile(p); err == nil {
			data = b
			break
		}
	}
	var id string
	var like []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.ToLower(strings.Trim(v, `"'`))
		switch k {
		case "ID":
			id = v
		case "ID_LIKE":
			like = strings.Fields(v)
		}
	}
	if id == "" {
		return like
	}
	return append([]string{id}, like...)
}

// managedDirs are the directories whose leftover temporary files a run
// cleans up (a crashed earlier run may have left some).
func (l *Layout) managedDirs() []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range []string{l.LocalDir, l.CertsDir, path.Dir(l.Bundle), l.HashDir, l.MirrorDir} {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// hashDirs are the directories the store keeps OpenSSL hash links in, in
// the order an operation locks them (see lock.go).
func (l *Layout) hashDirs() []string {
	var out []string
	for _, d := range []string{l.CertsDir, l.HashDir, l.MirrorDir} {
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func (l *Layout) String() string { return l.Name }
