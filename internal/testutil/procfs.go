package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Process figures, for tests that watch a real certinit for leaks (file
// descriptors, threads, memory) and for zombies it should have reaped,
// read from /proc (Linux only, like certinit's supervisor), and a
// command's peak memory, from GNU time.

// ProcStatus is the part of /proc/PID/status the hardening tests read.
type ProcStatus struct {
	State   string // "S (sleeping)", "Z (zombie)", ...
	PPid    int
	Threads int
	VmRSS   int64 // bytes
}

// Zombie reports whether the process has exited and not been reaped.
func (s ProcStatus) Zombie() bool { return strings.HasPrefix(s.State, "Z") }

// ReadProcStatus reads /proc/PID/status.
func ReadProcStatus(pid int) (ProcStatus, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return ProcStatus{}, err
	}
	var s ProcStatus
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "State":
			s.State = val
		case "PPid":
			s.PPid, _ = strconv.Atoi(val)
		case "Threads":
			s.Threads, _ = strconv.Atoi(val)
		case "VmRSS":
			kb, _ := strconv.ParseInt(strings.TrimSuffix(val, " kB"), 10, 64)
			s.VmRSS = kb * 1024
		}
	}
	if s.State == "" {
		return s, fmt.Errorf("/proc/%d/status: no State line", pid)
	}
	return s, nil
}

// FDCount is the number of open file descriptors of pid.
func FDCount(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatalf("count fds of %d: %v", pid, err)
	}
	return len(ents)
}

// Sockets is the number of open sockets of pid (os.Getpid() for the
// test itself).
func Sockets(t testing.TB, pid int) int {
	t.Helper()
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("count sockets of %d: %v", pid, err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// ProcUsage is what a leak check compares before and after a load.
type ProcUsage struct {
	FDs, Threads int
	RSS          int64 // bytes
}

func (u ProcUsage) String() string {
	return fmt.Sprintf("%d fds, %d threads, %.1f MiB RSS", u.FDs, u.Threads, float64(u.RSS)/(1<<20))
}

// Usage samples pid's open file descriptors, threads and resident memory.
func Usage(t testing.TB, pid int) ProcUsage {
	t.Helper()
	st, err := ReadProcStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	return ProcUsage{FDs: FDCount(t, pid), Threads: st.Threads, RSS: st.VmRSS}
}

// ChildrenOf returns the processes whose parent is ppid, with their
// status, by scanning /proc (in the caller's PID namespace). Processes that
// vanish during the scan are left out.
func ChildrenOf(ppid int) map[int]ProcStatus {
	out := map[int]ProcStatus{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := ReadProcStatus(pid)
		if err != nil || st.PPid != ppid {
			continue
		}
		out[pid] = st
	}
	return out
}

// PeakRSS wraps cmd in GNU time to learn the command's own peak RSS; the
// returned func gives it in KiB after cmd ran (-1 if unknown). The rusage
// Go reports for a child is no good here: the child is cloned from the
// test process, and Linux carries the test's high-water mark through exec.
// Without /usr/bin/time (Debian package time) the test skips (fails in CI).
func PeakRSS(t testing.TB, cmd *exec.Cmd) func() int64 {
	t.Helper()
	gnuTime := RequireTool(t, "/usr/bin/time")
	out := filepath.Join(t.TempDir(), "rss")
	cmd.Args = append([]string{gnuTime, "-f", "%M", "-o", out, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = gnuTime
	return func() int64 {
		var kib int64
		data, _ := os.ReadFile(out)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if _, err := fmt.Sscan(lines[len(lines)-1], &kib); err != nil {
			return -1
		}
		return kib
	}
}
