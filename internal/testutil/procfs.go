package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Process figures read from /proc, for tests that watch a real certinit
// for leaks (file descriptors, threads, memory) and for zombies it should
// have reaped. Linux only, like certinit's supervisor.

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
