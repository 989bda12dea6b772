package supervisor

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/certinit/certinit/internal/userfile"
)

// This file explains the most confusing way a command fails to start:
// execve(2) returns ENOENT, "no such file", for a file that exists when the
// program it needs to run it does not: the interpreter of a script's #!
// line (a script written for bash in an image without it), or the loader an
// ELF binary names in its PT_INTERP header (a binary built for glibc in a
// musl image, or the reverse). The message names that program instead.

// Bounds of what is read from a command to find its interpreter. Linux
// reads at most 256 bytes of a #! line (BINPRM_BUF_SIZE), and an ELF
// loader's path is a file name (PATH_MAX).
const (
	shebangMax = 256
	interpMax  = 4096
)

// maxInterpDepth is how many interpreters deep the kernel follows (a
// script whose interpreter is a script, ...): binfmt_script nests up to 4.
const maxInterpDepth = 4

// missingInterpreter returns, for the program at path, an error naming the
// interpreter or loader the kernel needs to run it and cannot find, or nil
// when it finds nothing missing (or cannot read the file, which exec
// itself then reports). A relative interpreter is resolved against dir,
// the working directory the command starts in ("" for this process's).
func missingInterpreter(path, dir string) error {
	via := "" // "" for the command itself, else the interpreter that needs the next
	for depth := 0; depth < maxInterpDepth; depth++ {
		kind, interp := interpreterOfFile(path)
		if interp == "" {
			return nil
		}
		resolved := interp
		if !filepath.IsAbs(interp) && dir != "" {
			resolved = filepath.Join(dir, interp)
		}
		if _, err := os.Stat(resolved); errors.Is(err, os.ErrNotExist) {
			return missingError(kind, interp, via)
		}
		path, via = resolved, interp
	}
	return nil
}

// Kinds of program that runs another.
const (
	kindShebang = "interpreter"
	kindLoader  = "loader"
)

// missingError says that interp, the interpreter or loader (kind) that the
// command needs, directly or for its interpreter via, does not exist.
func missingError(kind, interp, via string) error {
	owner, of := "its ", ""
	if via != "" {
		owner, of = "the ", " of its interpreter "+via
	}
	if kind == kindShebang {
		return fmt.Errorf("interpreter %s does not exist (named on %s#! line%s)", interp, owner, of)
	}
	return fmt.Errorf("program loader %s does not exist (named in %sELF header%s): built for a C library, glibc or musl, that this system does not have?", interp, owner, of)
}

// interpreterOfFile is interpreterOf for the file at path, "" when it
// cannot be read.
func interpreterOfFile(path string) (kind, interp string) {
	f, err := userfile.Open(path) // a FIFO named as COMMAND must not block
	if err != nil {
		return "", ""
	}
	defer f.Close()
	return interpreterOf(f)
}

// interpreterOf parses the start of an executable: the program named on a
// #! line (the first word after "#!", as Linux's binfmt_script reads it)
// or the loader named by an ELF file's PT_INTERP program header. It
// returns "" for anything else, and for a file it cannot parse.
func interpreterOf(r io.ReaderAt) (kind, interp string) {
	head := make([]byte, shebangMax)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return "", ""
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("#!")):
		return kindShebang, shebangInterpreter(head[2:])
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		return kindLoader, elfInterpreter(r)
	}
	return "", ""
}

// shebangInterpreter is the interpreter of a #! line (line: what follows
// "#!"): blanks skipped, then everything up to the next blank, newline or
// NUL. Linux takes at most what fits in its buffer; a line that does not
// end there is cut off where it does.
func shebangInterpreter(line []byte) string {
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimLeft(line, " \t")
	if i := bytes.IndexAny(line, " \t\x00"); i >= 0 {
		line = line[:i]
	}
	return string(line)
}

// elfInterpreter is the path in an ELF file's PT_INTERP segment, without
// its terminating NUL; "" when there is none (a static binary) or the file
// cannot be parsed.
func elfInterpreter(r io.ReaderAt) string {
	f, err := elf.NewFile(r)
	if err != nil {
		return ""
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		if p.Filesz == 0 || p.Filesz > interpMax {
			return ""
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return ""
		}
		if i := bytes.IndexByte(data, 0); i >= 0 {
			data = data[:i]
		}
		return string(data)
	}
	return ""
}
