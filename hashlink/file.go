package hashlink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// MaxFileSize bounds how much of one file is read (the same bound as
// internal/pemfile): large enough for any CRL or bundle in use, small enough
// that a mistaken multi-gigabyte file cannot exhaust memory.
const MaxFileSize = 64 << 20

// ParseObjects returns the certificates and CRLs in data: every CERTIFICATE,
// TRUSTED CERTIFICATE and X509 CRL block of PEM input, or, for input without
// a PEM block, the single DER certificate or CRL it holds. Other PEM blocks
// (keys, requests) are ignored.
func ParseObjects(data []byte) ([]*Object, error) {
	if !bytes.Contains(data, beginMarker) {
		if len(data) == 0 {
			return nil, errors.New("empty file")
		}
		obj, err := ParseCertificate(data)
		if err == nil {
			return []*Object{obj}, nil
		}
		if crl, err2 := ParseCRL(data); err2 == nil {
			return []*Object{crl}, nil
		}
		return nil, fmt.Errorf("not PEM, and not a DER certificate or CRL: %w", err)
	}
	var objs []*Object
	var scratch [512]byte
	rest := data
	for {
		typ, headers, der, r, ok, err := nextPEM(rest)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		rest = r
		kind, known := pemTypes[typ]
		if !known {
			continue
		}
		if headers {
			return nil, fmt.Errorf("%s block has PEM headers (encrypted?)", typ)
		}
		var obj *Object
		if kind == Certificate {
			obj, err = parseCertificate(der, scratch[:0])
		} else {
			obj, err = parseCRL(der, scratch[:0])
		}
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// HashFile reads a file holding exactly one certificate or CRL (PEM or DER;
// other PEM blocks such as a key are ignored) and returns it with its
// hashes. The error names the file.
func HashFile(path string) (*Object, error) {
	data, err := readFile(path, nil, false)
	if err != nil {
		return nil, err
	}
	objs, err := ParseObjects(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch len(objs) {
	case 1:
		return objs[0], nil
	case 0:
		return nil, fmt.Errorf("%s: no certificate or CRL in file", path)
	default:
		return nil, fmt.Errorf("%s: holds %d certificates or CRLs; hash needs exactly one", path, len(objs))
	}
}

// Why a file was not read.
var (
	errTooLarge   = fmt.Errorf("larger than %d MiB, refusing to read", MaxFileSize>>20)
	errNotRegular = errors.New("not a regular file (FIFO, socket or device), not read")
)

// readFile reads path into buf (grown as needed) with plain system calls:
// open, fstat, read until end of file, close. os.ReadFile adds a poller
// registration per file, which shows on a directory of thousands.
//
// With regularOnly (scanning a directory someone else may write to) the
// file is opened without blocking and anything but a regular file is
// refused: opening a FIFO planted as x.pem would otherwise block forever,
// as it does openssl rehash. A file named on the command line may be a
// pipe (certinit hash <(...)) and is read as it comes. Either way at most
// MaxFileSize bytes are read, and a regular file known to be larger is not
// read at all, so a huge file costs neither time nor memory.
func readFile(path string, buf []byte, regularOnly bool) ([]byte, error) {
	flags := syscall.O_RDONLY | syscall.O_CLOEXEC
	if regularOnly {
		flags |= syscall.O_NONBLOCK
	}
	fd, err := syscall.Open(path, flags, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		if st.Size > MaxFileSize {
			return nil, fmt.Errorf("%s: %w", path, errTooLarge)
		}
	case syscall.S_IFDIR:
		return nil, &os.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	default:
		if regularOnly {
			return nil, fmt.Errorf("%s: %w", path, errNotRegular)
		}
	}
	switch {
	case st.Mode&syscall.S_IFMT == syscall.S_IFREG && int64(cap(buf)) <= st.Size:
		// One allocation of the right size: growing by appends would
		// copy a large file several times over.
		buf = make([]byte, 0, max(st.Size+512, 8192))
	case cap(buf) < 4096:
		buf = make([]byte, 0, 8192)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) > MaxFileSize {
			return nil, fmt.Errorf("%s: %w", path, errTooLarge)
		}
	}
}
