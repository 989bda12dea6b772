// Package pemfile reads certificates, CRLs and private keys from PEM or DER
// files and checks key pairs. It is the one place certinit turns bytes on disk
// into objects, so every command reports bad input the same way: one error
// that names the file and the problem.
//
// It does not verify chains or decide trust (truststore and probe do), and it
// does not hash names (hashlink parses names itself, to hash what OpenSSL
// hashes even where crypto/x509 refuses a certificate).
package pemfile

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"
)

// MaxFileSize bounds how much of one input file is read. A trust bundle with
// every public root is about 200 KiB; 64 MiB leaves room for very large CRLs
// while keeping a mistaken multi-gigabyte file from exhausting memory.
const MaxFileSize = 64 << 20

// Kind classifies one object found in a file.
type Kind int

// Kinds of objects.
const (
	KindCert Kind = iota
	KindCRL
	KindKey
	KindOther
)

// Block is one DER object found in a file, with its kind.
type Block struct {
	Kind Kind
	Type string // PEM type, or "DER" for a raw DER file
	DER  []byte
}

// ErrNoObjects means the file held no PEM block and was not DER either.
var ErrNoObjects = errors.New("no PEM block and not DER: not a certificate, CRL or key")

// ReadFile reads path, bounded by MaxFileSize: a regular file known to be
// larger is refused before a byte is read. Other files (a pipe given as
// <(...)) are read as they come, up to the bound.
func ReadFile(path string) ([]byte, error) {
	data, _, err := readBounded(atCWD, path, 0, 0, nil)
	return data, err
}

// ReadRegularFile is ReadFile for files found by scanning a directory that
// others write to (a trust store, a capath): it opens without blocking and
// refuses anything but a regular file, so a FIFO planted as x.pem cannot
// hang the scan.
func ReadRegularFile(path string) ([]byte, error) {
	data, _, err := readBounded(atCWD, path, regularOnly, 0, nil)
	return data, err
}

// ReadRegularFileAt is ReadRegularFile of name in the directory open as
// dirfd, without following a symbolic link in name's last component: a
// link is an error wrapping syscall.ELOOP, for a caller that resolves
// links itself (inside an OS root) and reads hundreds of files from one
// directory, where a path walk per file is what a read costs most.
func ReadRegularFileAt(dirfd int, name string) ([]byte, error) {
	data, _, err := readBounded(dirfd, name, regularOnly|syscall.O_NOFOLLOW, 0, nil)
	return data, err
}

// ReadRegularFileHead is ReadRegularFile of at most the first n bytes of
// the file; whole reports that they are all of it. For a caller that can
// often decide from the start of a large file (a bundle holds more than
// one certificate).
func ReadRegularFileHead(path string, n int) (data []byte, whole bool, err error) {
	return readBounded(atCWD, path, regularOnly, n, nil)
}

// atCWD makes openat resolve a relative path from the working directory.
const atCWD = -0x64 // AT_FDCWD, which package syscall does not export on Linux

// regularOnly is readBounded's flag for refusing all but regular files
// (see ReadRegularFile); it opens without blocking, as a FIFO needs.
const regularOnly = syscall.O_NONBLOCK

// ReadRegularFileBuf is ReadRegularFile into buf's storage when it is large
// enough, for a caller that reads thousands of files one after the other
// (rehash): the data is valid until buf is used again.
func ReadRegularFileBuf(path string, buf []byte) ([]byte, error) {
	if buf == nil {
		buf = []byte{} // not nil: readBounded leaves room for the next file
	}
	data, _, err := readBounded(atCWD, path, regularOnly, 0, buf)
	return data, err
}

// Why a file was not read (wrapped, after the file's name).
var (
	ErrTooLarge   = errors.New("larger than " + strconv.Itoa(MaxFileSize>>20) + " MiB, refusing to read")
	ErrNotRegular = errors.New("not a regular file")
)

// readBounded reads path (relative to dirfd), or its first head bytes when
// head > 0, into buf when it has room; whole reports that the data is the
// whole file. flags are added to open's: regularOnly, O_NOFOLLOW.
func readBounded(dirfd int, path string, flags int, head int, buf []byte) (data []byte, whole bool, err error) {
	// Regular files, which is nearly every read, go through raw system
	// calls: open, fstat, one read into a buffer of the file's size plus a
	// byte, close. os.File would also register each file with the network
	// poller (an epoll_ctl and an fcntl that fail for regular files); a
	// distribution's store is ~150 files read at every container start, and
	// on virtual machines a system call costs microseconds.
	regular := flags&regularOnly != 0
	flags |= syscall.O_RDONLY | syscall.O_CLOEXEC
	var fd int
	err = ignoringEINTR(func() (err error) { fd, err = syscall.Openat(dirfd, path, flags, 0); return })
	if err != nil {
		return nil, false, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(fd, &st) }); err != nil {
		syscall.Close(fd)
		return nil, false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	switch typ := st.Mode & syscall.S_IFMT; {
	case typ == syscall.S_IFREG && st.Size > MaxFileSize:
		syscall.Close(fd)
		return nil, false, fmt.Errorf("%s: %w", path, ErrTooLarge)
	case typ == syscall.S_IFDIR:
		syscall.Close(fd)
		return nil, false, fmt.Errorf("%s: %w", path, syscall.EISDIR)
	case typ != syscall.S_IFREG && regular:
		syscall.Close(fd)
		return nil, false, fmt.Errorf("%s: %w (%s), not read", path, ErrNotRegular, fileType(typ))
	case typ != syscall.S_IFREG:
		// A pipe given as <(...) or a terminal: read as it comes, up to the
		// bound (opened blocking, so a read waits in its thread).
		f := os.NewFile(uintptr(fd), path)
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		if len(data) > MaxFileSize {
			return nil, false, fmt.Errorf("%s: %w", path, ErrTooLarge)
		}
		return data, true, nil
	}
	defer syscall.Close(fd)
	// One byte more than the size says, so that a read that fills it shows
	// the file grew meanwhile; regular files return short reads only at
	// the end.
	size := int(st.Size) + 1
	if head > 0 && size > head {
		size = head
	}
	if data = buf[:0]; cap(data) < size {
		if buf != nil { // reused for the next file: room for a larger one
			size = max(size+512, 8192)
		}
		data = make([]byte, 0, size)
	}
	for {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = syscall.Read(fd, data[len(data):cap(data)]); return })
		if err != nil {
			return nil, false, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return data, true, nil
		}
		data = data[:len(data)+n]
		if head > 0 && len(data) >= head {
			return data[:head], false, nil
		}
		if len(data) > MaxFileSize {
			return nil, false, fmt.Errorf("%s: %w", path, ErrTooLarge)
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // grew: make room, read on
		}
	}
}

// fileType names a file type that is not a regular file or directory.
func fileType(typ uint32) string {
	switch typ {
	case syscall.S_IFIFO:
		return "named pipe"
	case syscall.S_IFCHR:
		return "character device"
	case syscall.S_IFBLK:
		return "block device"
	case syscall.S_IFSOCK:
		return "socket"
	}
	return "special file"
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}

// decodePlain is pem.Decode for the block it would find first when that
// block has the plain form certificate files use: "-----BEGIN TYPE-----"
// at the start of a line, lines of base64 only, "-----END TYPE-----" alone
// on its line, LF or CRLF line ends. It returns ok=false for anything else
// (headers, blanks, a BEGIN without its END, bad base64, ...), which the
// caller hands to pem.Decode; where it returns ok=true it gives what
// pem.Decode gives (FuzzDecodePlain). It exists for speed: a
// distribution's trust store is ~150 such files read at every container
// start, and pem.Decode's search for the last BEGIN before the first END
// and its header map are a third of reading them.
func decodePlain(data []byte) (typ string, der, rest []byte, ok bool) {
	end := bytes.Index(data, pemEnd)
	if end < 0 {
		return "", nil, nil, false
	}
	begin := bytes.Index(data[:end], pemBegin)
	if begin < 0 || begin > 0 && data[begin-1] != '\n' {
		return "", nil, nil, false
	}
	line := data[begin+len(pemBegin) : end+1]
	nl := bytes.IndexByte(line, '\n')
	bodyStart := begin + len(pemBegin) + nl + 1
	line = bytes.TrimSuffix(line[:nl], []byte{'\r'})
	t, found := bytes.CutSuffix(line, pemDashes)
	if !found || len(t) == 0 || bodyStart >= end {
		return "", nil, nil, false
	}
	for _, c := range t {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == ' ') {
			return "", nil, nil, false
		}
	}
	body := data[bodyStart:end]
	for _, c := range body {
		if !base64Line[c] {
			return "", nil, nil, false
		}
	}
	after := data[end+len(pemEnd):]
	if !bytes.HasPrefix(after, t) || !bytes.HasPrefix(after[len(t):], pemDashes) {
		return "", nil, nil, false
	}
	after = after[len(t)+len(pemDashes):]
	switch {
	case len(after) == 0:
	case after[0] == '\n':
		after = after[1:]
	case len(after) >= 2 && after[0] == '\r' && after[1] == '\n':
		after = after[2:]
	default:
		return "", nil, nil, false
	}
	der = make([]byte, base64.StdEncoding.DecodedLen(len(body)))
	n, err := base64.StdEncoding.Decode(der, body)
	if err != nil {
		return "", nil, nil, false
	}
	return string(t), der[:n], after, true
}

var (
	pemBegin  = []byte("-----BEGIN ")
	pemEnd    = []byte("\n-----END ")
	pemDashes = []byte("-----")
	// base64Line holds the bytes of base64 text in lines: the alphabet,
	// padding, and LF and CR (which base64.StdEncoding.Decode skips).
	base64Line = func() (t [256]bool) {
		for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n") {
			t[c] = true
		}
		return t
	}()
)

// kindOf maps PEM types to kinds.
var kindOf = map[string]Kind{
	"CERTIFICATE":           KindCert,
	"TRUSTED CERTIFICATE":   KindCert, // OpenSSL's aux-trust form: DER cert followed by aux data
	"X509 CERTIFICATE":      KindCert,
	"X509 CRL":              KindCRL,
	"PRIVATE KEY":           KindKey,
	"RSA PRIVATE KEY":       KindKey,
	"EC PRIVATE KEY":        KindKey,
	"ENCRYPTED PRIVATE KEY": KindKey,
}

// Parse splits data into blocks. PEM input yields every PEM block in order
// (text between blocks is ignored, as OpenSSL does); input with no PEM block is
// taken as a single DER object, classified by a light structural check. A PEM
// block whose base64 is corrupt is an error, not silently skipped.
func Parse(data []byte) ([]Block, error) {
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		var out []Block
		rest := data
		for {
			typ, der, next, ok := decodePlain(rest)
			if !ok {
				var b *pem.Block
				if b, next = pem.Decode(rest); b == nil {
					break
				}
				typ, der = b.Type, b.Bytes
			}
			rest = next
			k, ok := kindOf[typ]
			if !ok {
				k = KindOther
			}
			out = append(out, Block{Kind: k, Type: typ, DER: der})
		}
		if len(out) == 0 {
			return nil, errors.New("malformed PEM: a BEGIN line without a decodable block")
		}
		if bytes.Contains(rest, []byte("-----BEGIN ")) {
			return out, errors.New("malformed PEM: truncated or corrupt block after the last good one")
		}
		return out, nil
	}
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	if _, err := x509.ParseCertificate(data); err == nil {
		return []Block{{Kind: KindCert, Type: "DER", DER: data}}, nil
	}
	if _, err := x509.ParseRevocationList(data); err == nil {
		return []Block{{Kind: KindCRL, Type: "DER", DER: data}}, nil
	}
	if _, err := ParseKey(data); err == nil {
		return []Block{{Kind: KindKey, Type: "DER", DER: data}}, nil
	}
	return nil, ErrNoObjects
}

// Certificates parses every certificate in data (PEM bundle or one DER).
// Non-certificate blocks are ignored; no certificate at all is an error.
func Certificates(data []byte) ([]*x509.Certificate, error) {
	blocks, err := Parse(data)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for i, b := range blocks {
		if b.Kind != KindCert {
			continue
		}
		c, err := x509.ParseCertificate(b.DER)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate in file")
	}
	return certs, nil
}

// ReadCertificates reads and parses every certificate in a file; errors name
// the file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := Certificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// ParseKey parses a PKCS#8, PKCS#1 or SEC1 private key in DER.
func ParseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("unsupported private key type")
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, PKCS#1 or EC private key")
}

// ReadKey reads the first private key in a file (PEM or DER).
func ReadKey(path string) (crypto.Signer, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	blocks, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, b := range blocks {
		if b.Kind != KindKey {
			continue
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, fmt.Errorf("%s: private key is encrypted; certinit needs an unencrypted key", path)
		}
		k, err := ParseKey(b.DER)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s: no private key in file", path)
}

// KeyMatches reports whether priv is the private half of the certificate's
// public key.
func KeyMatches(cert *x509.Certificate, priv crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := priv.Public().(equaler)
	return ok && pub.Equal(cert.PublicKey)
}

// Pair is a loaded certificate chain with its key.
type Pair struct {
	Chain []*x509.Certificate // leaf first
	Key   crypto.Signer
	TLS   tls.Certificate
}

// LoadPair loads a certificate file (leaf first, optional chain after it) and
// a key file and checks what a TLS server checks when it loads them: both
// parse, the key matches the leaf, and the leaf is valid at now.
// The error names the file at fault.
func LoadPair(certPath, keyPath string, now time.Time) (*Pair, error) {
	certs, err := ReadCertificates(certPath)
	if err != nil {
		return nil, err
	}
	key, err := ReadKey(keyPath)
	if err != nil {
		return nil, err
	}
	leaf := certs[0]
	if !KeyMatches(leaf, key) {
		return nil, fmt.Errorf("%s: key does not match certificate %s", keyPath, certPath)
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%s: certificate expired at %s", certPath, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("%s: certificate not valid before %s", certPath, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	tc := tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, c := range certs {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return &Pair{Chain: certs, Key: key, TLS: tc}, nil
}

// KeyDescription says "RSA 2048", "ECDSA P-256" or "Ed25519" for a public key.
func KeyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// EncodeCerts returns the PEM encoding of certs, one block each.
func EncodeCerts(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}
