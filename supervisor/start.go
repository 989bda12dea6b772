package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Exit codes for a command that cannot run, as POSIX shells report them.
const (
	CodeNotFound      = 127 // no such program
	CodeNotExecutable = 126 // found, but not executable (permission, format)
)

// StartError says why COMMAND could not be started, with the exit code a
// shell would give for it.
type StartError struct {
	Name string
	Code int
	Err  error
}

func (e *StartError) Error() string { return fmt.Sprintf("%s: %v", e.Name, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// LookPath finds the program for name as a shell would: a name with a slash
// is used as it is, anything else is searched in PATH. Like exec(2) it
// fails, with 127, for a program whose interpreter (#! line) or loader
// (ELF PT_INTERP) does not exist, and says so: exec would report "no such
// file" for a file that is there.
func LookPath(name string) (string, error) {
	if name == "" {
		return "", &StartError{Name: `""`, Code: CodeNotFound, Err: errors.New("empty command")}
	}
	path, err := exec.LookPath(name)
	if errors.Is(err, exec.ErrDot) {
		// A program found through a relative PATH entry: run it as sh would.
		err = nil
	}
	if err != nil {
		return "", startError(name, "", "", err)
	}
	if err := missingInterpreter(path, ""); err != nil {
		return "", &StartError{Name: name, Code: CodeNotFound, Err: err}
	}
	return path, nil
}

// startError classifies an error from LookPath, StartProcess or Exec. path
// is the program found for name ("" before it is found), run in dir ("":
// certinit's working directory).
func startError(name, path, dir string, err error) error {
	var se *StartError
	if errors.As(err, &se) {
		return err
	}
	code := CodeNotExecutable
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		code = CodeNotFound
		if path != "" {
			if missing := missingInterpreter(path, dir); missing != nil {
				err = missing
				break
			}
		}
		if !strings.Contains(name, "/") {
			err = errors.New("command not found in PATH")
		} else {
			err = errors.New("no such file")
		}
	case errors.Is(err, fs.ErrPermission):
		err = errors.New("permission denied (not executable?)")
	case errors.Is(err, syscall.ENOEXEC):
		err = errors.New("not an executable format")
	}
	return &StartError{Name: name, Code: code, Err: err}
}

// Exec replaces the current process with the program (syscall.Exec), so
// it becomes PID 1 of the container and certinit is gone: the plain
// `exec "$@"` entrypoint. It returns only on failure, with a *StartError.
func Exec(args []string, env []string) error {
	if len(args) == 0 {
		return &StartError{Name: `""`, Code: CodeNotFound, Err: errors.New("no command")}
	}
	path, err := LookPath(args[0])
	if err != nil {
		return err
	}
	if env == nil {
		env = os.Environ()
	}
	return startError(args[0], path, "", syscall.Exec(path, args, env))
}
