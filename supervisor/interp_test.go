package supervisor

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// missingLoader is a loader path that exists nowhere, short enough to
// replace the PT_INTERP of any dynamically linked binary.
const missingLoader = "/nonexistent/ld.so"

// withLoader copies the dynamically linked program bin into dir with its
// PT_INTERP path replaced by loader: a real binary whose loader is absent,
// as a glibc binary is in a musl image.
func withLoader(t *testing.T, bin, dir, loader string) string {
	t.Helper()
	data := testutil.ReadFile(t, bin)
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		if uint64(len(loader)) >= p.Filesz {
			t.Fatalf("%s: PT_INTERP has room for %d bytes, not %q", bin, p.Filesz, loader)
		}
		field := data[p.Off : p.Off+p.Filesz]
		clear(field)
		copy(field, loader)
		path := filepath.Join(dir, filepath.Base(bin)+"-other-libc")
		if err := os.WriteFile(path, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Fatalf("%s is statically linked: no PT_INTERP to change", bin)
	return ""
}

// TestMissingInterpreter: a command that exists but whose interpreter (#!
// line) or ELF loader does not fails as exec(2) fails it, with 127 and
// before anything runs, and the error names the missing program, not the
// command as "no such file". The kernel's own verdict backs each case: a
// plain exec of the file fails with ENOENT.
func TestMissingInterpreter(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	if _, err := os.Stat(missingLoader); err == nil {
		t.Fatalf("%s exists here", missingLoader)
	}
	dir := t.TempDir()
	script := func(name, firstLine string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(firstLine+"\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	outer := script("outer.sh", "#!/nonexistent/interp")
	tests := []struct {
		name    string
		path    string
		missing string
	}{
		{"shebang", script("plain.sh", "#!/nonexistent/interp"), "/nonexistent/interp"},
		{"shebang with blanks and an argument", script("args.sh", "#! \t/nonexistent/bash -e"), "/nonexistent/bash"},
		{"interpreter that is a script", script("nested.sh", "#!"+outer), "/nonexistent/interp"},
		{"ELF loader", withLoader(t, sh, dir, missingLoader), missingLoader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := exec.Command(tc.path).Run()
			if !errors.Is(err, syscall.ENOENT) {
				t.Fatalf("the kernel runs it (%v): not a missing interpreter", err)
			}
			_, err = New(Options{Args: []string{tc.path}})
			var se *StartError
			if !errors.As(err, &se) || se.Code != CodeNotFound {
				t.Fatalf("New: %v, want a *StartError with %d", err, CodeNotFound)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.missing) || strings.Count(msg, tc.path) != 1 || strings.Contains(msg, "no such file") {
				t.Errorf("%q: want %s named once and %s, not \"no such file\"", msg, tc.path, tc.missing)
			}
		})
	}

	// Programs whose interpreter or loader exists start.
	for _, p := range []string{sh, script("fine.sh", "#!"+sh)} {
		if _, err := New(Options{Args: []string{p}}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestInterpreterGoneAtStart: an interpreter removed between New and the
// start is reported by Run the same way.
func TestInterpreterGoneAtStart(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	dir := t.TempDir()
	interp := filepath.Join(dir, "interp")
	if err := os.Symlink(sh, interp); err != nil {
		t.Fatal(err)
	}
	prog := testutil.WriteFile(t, dir, "prog.sh", []byte("#!"+interp+"\nexit 0\n"))
	if err := os.Chmod(prog, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Args: []string{prog}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(interp); err != nil {
		t.Fatal(err)
	}
	r := goRun(t, s, context.Background()).wait(t)
	var se *StartError
	if r.code != CodeNotFound || !errors.As(r.err, &se) || !strings.Contains(r.err.Error(), interp) {
		t.Fatalf("Run: code %d, %v; want %d naming %s", r.code, r.err, CodeNotFound, interp)
	}
}

// FuzzInterpreterOf feeds arbitrary file contents to interpreterOf, which
// parses the start of every COMMAND that fails to start. Beyond not
// panicking (debug/elf included) and taking no time, what it returns is a
// path the kernel could have read: a #! interpreter has no blank, newline
// or NUL and fits Linux's buffer; a loader has no NUL and is bounded.
func FuzzInterpreterOf(f *testing.F) {
	f.Add([]byte("#!/bin/sh\necho\n"))
	f.Add([]byte("#! \t/usr/bin/env bash -e\n"))
	f.Add([]byte("#!"))
	f.Add([]byte("#!" + strings.Repeat("x", 300)))
	for _, bin := range []string{"sh", "mosquitto"} {
		if p, err := exec.LookPath(bin); err == nil {
			data, err := os.ReadFile(p)
			if err == nil && len(data) > 4096 {
				f.Add(data[:4096]) // headers, PT_INTERP included
				f.Add(data[:64])   // an ELF header without its program headers
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		kind, interp := interpreterOf(bytes.NewReader(data))
		switch kind {
		case kindShebang:
			if strings.ContainsAny(interp, " \t\n\x00") || len(interp) > shebangMax-2 {
				t.Fatalf("interpreter %q", interp)
			}
		case kindLoader:
			if strings.Contains(interp, "\x00") || len(interp) > interpMax {
				t.Fatalf("loader %q", interp)
			}
		case "":
			if interp != "" {
				t.Fatalf("no kind, but %q", interp)
			}
		default:
			t.Fatalf("kind %q", kind)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%d bytes took %v", len(data), d)
		}
	})
}

// TestInterpreterIsFIFO: a #! line that names a FIFO does not block the
// start (the interpreter is opened as userfile opens a file, O_NONBLOCK);
// the FIFO exists, so nothing is reported missing and exec says the rest.
func TestInterpreterIsFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!"+fifo+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- missingInterpreter(script, "") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("missingInterpreter = %v, want nil: the FIFO exists", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("missingInterpreter blocked opening a FIFO")
	}
}
