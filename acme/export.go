package acme

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/certinit/certinit/internal/atomicfile"
	"github.com/certinit/certinit/internal/owner"
	"github.com/certinit/certinit/internal/pemfile"
)

// Output file names, certbot's.
const (
	CertFile      = "cert.pem"      // the leaf certificate
	ChainFile     = "chain.pem"     // the intermediates (the local CA for the local issuer)
	FullChainFile = "fullchain.pem" // leaf then intermediates: a broker's certfile
	KeyFile       = "privkey.pem"   // the private key (PKCS#8): a broker's keyfile
)

// Files are the paths of one certificate's output files.
type Files struct {
	Cert, Chain, FullChain, Key string
}

func filesIn(dir string) Files {
	return Files{
		Cert:      filepath.Join(dir, CertFile),
		Chain:     filepath.Join(dir, ChainFile),
		FullChain: filepath.Join(dir, FullChainFile),
		Key:       filepath.Join(dir, KeyFile),
	}
}

// outFile is one file to write: its path, bytes and mode.
type outFile struct {
	path string
	data []byte
	perm fs.FileMode
}

// render prepares the four files of a bundle in dir, without writing.
// chain is what goes to chain.pem: the intermediates the CA sent, or the
// local CA.
func render(dir string, b *bundle, own *owner.Owner) ([]outFile, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(b.key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	keyPerm := own.KeyMode()
	f := filesIn(dir)
	leaf := pemfile.EncodeCerts(b.leaf())
	chain := pemfile.EncodeCerts(b.chain[1:]...)
	return []outFile{
		// Order matters to a reader that does not wait for the callback:
		// the key last, so a new fullchain never meets an old key for long.
		{f.Chain, chain, 0o644},
		{f.Cert, leaf, 0o644},
		{f.FullChain, append(bytes.Clone(leaf), chain...), 0o644},
		{f.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), keyPerm},
	}, nil
}

// upToDate reports whether path already has exactly these bytes, mode and
// owner, so that rewriting it would change nothing.
func upToDate(o outFile, own *owner.Owner) bool {
	fi, err := os.Lstat(o.path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != o.perm {
		return false
	}
	if own != nil {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || int(st.Uid) != own.UID || (own.GID >= 0 && int(st.Gid) != own.GID) {
			return false
		}
	}
	old, err := pemfile.ReadFile(o.path)
	return err == nil && bytes.Equal(old, o.data)
}

// writeFiles writes the files that differ and returns their paths. Files
// already up to date are left alone, so their modification times say when
// they last really changed.
//
// The files are written as one group by atomicfile.WriteFiles: every file
// complete and durable under a temporary name first (scanners skip it, a
// crash leaves only that), then all renamed into place one right after the
// other, in the order given, and each directory synced. A reader that loads
// fullchain.pem and privkey.pem on its own (a broker restarting, a server
// that reloads per connection) can meet the new certificate with the old
// key only within those microseconds, instead of for as long as the key's
// fsyncs take: a server loading the pair on every handshake failed one
// handshake per renewal that way (TestRenewLoopSlowCA). A failure before
// the renames leaves every output file as it was.
func writeFiles(files []outFile, own *owner.Owner) (written []string, err error) {
	var todo []atomicfile.File
	for _, o := range files {
		if upToDate(o, own) {
			continue
		}
		dir := filepath.Dir(o.path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		todo = append(todo, atomicfile.File{Path: o.path, Data: o.data, Perm: o.perm})
	}
	return atomicfile.WriteFiles(todo, own.WriteOptions())
}
