package supervisor

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// forwarded are the signals certinit passes on to its child, as tini does.
// Everything a container runtime, an orchestrator or a person at a terminal
// sends to PID 1 to talk to the real server. Deliberately absent:
//   - SIGCHLD: it is about certinit's own children; the reaper consumes it.
//   - SIGURG: the Go runtime uses it to preempt goroutines; forwarding it
//     would pelt the child with signals it never asked for.
//   - SIGKILL, SIGSTOP: cannot be caught.
//   - SIGPIPE, SIGTTIN, SIGTTOU, SIGTSTP: about certinit's own terminal and
//     pipes, not requests for the child.
var forwarded = []syscall.Signal{
	syscall.SIGTERM,  // docker stop, kubelet: shut down gracefully
	syscall.SIGINT,   // Ctrl-C, docker run -it
	syscall.SIGQUIT,  // some servers dump state or stop at once
	syscall.SIGHUP,   // reload by hand: kill -HUP, docker kill -s HUP
	syscall.SIGUSR1,  // server-defined (mosquitto: write the retained-message db)
	syscall.SIGUSR2,  // server-defined (mosquitto: print the subscription tree)
	syscall.SIGWINCH, // terminal resized, for interactive children
}

// stopSignals are the forwarded signals that mean "shut down": after
// forwarding one, certinit gives the child the stop timeout, then SIGKILL.
var stopSignals = map[syscall.Signal]bool{
	syscall.SIGTERM: true,
	syscall.SIGINT:  true,
}

// signalNames maps the names --reload-signal accepts (without "SIG") to
// signals: those a server may reasonably reload on.
var signalNames = map[string]syscall.Signal{
	"HUP":   syscall.SIGHUP,
	"INT":   syscall.SIGINT,
	"QUIT":  syscall.SIGQUIT,
	"TERM":  syscall.SIGTERM,
	"USR1":  syscall.SIGUSR1,
	"USR2":  syscall.SIGUSR2,
	"WINCH": syscall.SIGWINCH,
	"ALRM":  syscall.SIGALRM,
}

// ParseSignal accepts "HUP", "SIGHUP", "hup" or a number ("1").
func ParseSignal(s string) (syscall.Signal, error) {
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	if sig, ok := signalNames[name]; ok {
		return sig, nil
	}
	if n, err := strconv.Atoi(name); err == nil {
		for _, sig := range signalNames {
			if int(sig) == n {
				return sig, nil
			}
		}
	}
	return 0, fmt.Errorf("unknown or unsupported signal %q (use HUP, USR1, USR2, INT, QUIT, TERM, WINCH or ALRM)", s)
}

// SignalName is the short name of sig ("HUP"), for logs.
func SignalName(sig syscall.Signal) string {
	for name, s := range signalNames {
		if s == sig {
			return name
		}
	}
	return strconv.Itoa(int(sig))
}

// ExitCode is the code a shell reports for a wait status: the exit status,
// or 128+N when signal N killed the process.
func ExitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	default:
		return 128 + int(syscall.SIGKILL) // not reachable for a reaped process
	}
}
