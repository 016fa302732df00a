package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procCPU returns the CPU time (user + system) process pid has used, from
// /proc/<pid>/stat. It returns -1 if that cannot be read (pid <= 0, or not
// Linux).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	cpu, err := parseStatCPU(b)
	if err != nil {
		return -1
	}
	return cpu
}

// parseStatCPU extracts utime + stime from the contents of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted after its closing parenthesis.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat")
	}
	return time.Duration(ut+st) * clockTick, nil
}

// procRSS returns the resident set size of process pid in bytes, from
// VmRSS in /proc/<pid>/status, or -1.
func procRSS(pid int) int64 {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return -1
}

// loadAverage returns the first line of /proc/loadavg, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// raiseNoFile raises this process's limit of open files as far as it may
// (the hard limit, or more if privileged) and returns the new soft limit.
// Child processes started afterwards inherit it.
func raiseNoFile(want uint64) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Max < want {
		up := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			return want
		}
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return rl.Cur
}

// procs are the processes of a server under test (several for a cluster,
// with its Redis), whose CPU and memory are summed.
type procs []int

// pidsOf returns the procs of one process, or none for pid <= 0.
func pidsOf(pid int) procs {
	if pid <= 0 {
		return nil
	}
	return procs{pid}
}

// cpu returns the CPU time the processes have used, or -1 if there are
// none or one cannot be read.
func (p procs) cpu() time.Duration { return sumOf(p, procCPU) }

// rss returns the processes' resident set size in bytes, or -1.
func (p procs) rss() int64 { return sumOf(p, procRSS) }

// sumOf sums read over the processes p: -1 if there are none or one
// cannot be read (read returned a negative value).
func sumOf[N time.Duration | int64](p procs, read func(pid int) N) N {
	var sum N
	for _, pid := range p {
		v := read(pid)
		if v < 0 {
			return -1
		}
		sum += v
	}
	if len(p) == 0 {
		return -1
	}
	return sum
}
