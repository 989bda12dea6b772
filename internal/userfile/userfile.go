// Package userfile is certinit's one reader of files that a user names or
// that certinit finds in a directory others write to (a --cert path, a
// trust store, a capath, a mosquitto.conf include_dir). Whoever put a
// FIFO, a device or a multi-gigabyte file there, Read neither blocks nor
// exhausts memory: it gives one error that names the file.
//
// The rules, the same for every caller:
//   - the file is opened with O_NONBLOCK, so opening a FIFO returns at once
//     instead of waiting for a writer;
//   - only a regular file is read (symbolic links are followed; a directory,
//     FIFO, socket or device is refused by name);
//   - at most a caller-given number of bytes: a file known to be larger is
//     refused before a byte is read, and one that grows past the bound
//     while it is read is refused too.
//
// It does not parse anything (internal/pemfile decodes what it reads) and
// it is not for files certinit itself writes and reads back.
package userfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"syscall"
)

// Why a file was not read. Errors from Read wrap one of these, or the
// system error of the open or read, after the file's name.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("too large")
)

// Read returns the content of the regular file at path, at most max bytes.
// The error names path once: "PATH: is a named pipe (FIFO), not a
// regular file; ...". A directory gives an error wrapping syscall.EISDIR.
func Read(path string, max int64) ([]byte, error) {
	f, err := open(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, PathError(path, err)
	}
	if int64(len(data)) > max {
		return nil, tooLarge(path, max)
	}
	return data, nil
}

// Open opens the regular file at path for a caller that reads only part
// of it (the head of an executable), under Read's rules except the size
// bound. The caller closes the file.
func Open(path string) (*os.File, error) {
	return open(path, math.MaxInt64)
}

// open opens path with O_NONBLOCK and refuses what Read does not read.
func open(path string, max int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, PathError(path, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = check(path, fi, max)
	} else {
		err = PathError(path, err)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// check refuses what Read does not read, given the file's Stat.
func check(path string, fi fs.FileInfo, max int64) error {
	switch m := fi.Mode(); {
	case m.IsDir():
		return fmt.Errorf("%s: %w", path, syscall.EISDIR)
	case !m.IsRegular():
		return fmt.Errorf("%s: is a %s, %w; certinit reads only regular files", path, TypeName(m), ErrNotRegular)
	case fi.Size() > max:
		return tooLarge(path, max)
	}
	return nil
}

func tooLarge(path string, max int64) error {
	return fmt.Errorf("%s: larger than %s, %w to read", path, size(max), ErrTooLarge)
}

// PathError is err as "PATH: reason": the error of a file operation in the
// one form certinit gives such errors, naming the path once. The os
// package puts the operation and the path in front of a system error
// itself (*fs.PathError "open PATH: ...", *os.LinkError "rename OLD NEW:
// ..."); that part is dropped, so that wrapping does not name the path
// twice. Every error of Read has this form; writers use it with their
// operation in front ("write " + PathError(...)).
func PathError(path string, err error) error {
	return fmt.Errorf("%s: %w", path, Reason(err))
}

// Reason is err without the operation and path(s) that the os package
// puts in front of a system error (*fs.PathError, *os.LinkError), for a
// message that names the path itself ("rename: file exists"). Any other
// error is returned as it is.
func Reason(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// TypeName names the type of a file in words ("symbolic link", "named
// pipe (FIFO)"), for messages that refuse a file that is not a regular
// one.
func TypeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// size says max in the largest whole unit: "64 MiB", "4 KiB", "100 bytes".
func size(max int64) string {
	switch {
	case max >= 1<<20 && max%(1<<20) == 0:
		return strconv.FormatInt(max>>20, 10) + " MiB"
	case max >= 1<<10 && max%(1<<10) == 0:
		return strconv.FormatInt(max>>10, 10) + " KiB"
	}
	return strconv.FormatInt(max, 10) + " bytes"
}
