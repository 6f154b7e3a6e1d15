package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CPU accounting for runs where the load generator shares the machine with
// the servers (and their database): the CPU time each process used during
// the measured part of a run, so that throughput can also be read per
// server CPU-second.

// userHZ is the unit of the times in /proc/PID/stat (USER_HZ, 100 on every
// Linux the kernel ABI allows to report otherwise).
const userHZ = 100

// CPUProc names a process whose CPU time to measure, with its descendants
// (PostgreSQL's backends are children of the postmaster).
type CPUProc struct {
	Name    string  `json:"name"`
	PID     int     `json:"pid"`
	Seconds float64 `json:"cpu_s"` // during the window
}

// CPUReport is the CPU time used during the measured window.
type CPUReport struct {
	WindowS   float64   `json:"window_s"`
	Generator float64   `json:"generator_cpu_s"` // this process: the load generator
	Procs     []CPUProc `json:"processes"`
}

// TreeCPU is the CPU time (user + system) used so far by pid and its live
// descendants, including their children that have exited and been waited
// for, from /proc.
func TreeCPU(pid int) (time.Duration, error) {
	stats, err := procStats()
	if err != nil {
		return 0, err
	}
	if _, ok := stats[pid]; !ok {
		return 0, fmt.Errorf("process %d: not running", pid)
	}
	children := map[int][]int{}
	for p, s := range stats {
		children[s.ppid] = append(children[s.ppid], p)
	}
	var ticks int64
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		ticks += stats[p].ticks
		todo = append(todo, children[p]...)
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

type procStat struct {
	ppid  int
	ticks int64 // utime + stime + cutime + cstime
}

// procStats reads /proc/*/stat. Processes that exit meanwhile are skipped.
func procStats() (map[int]procStat, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, errors.New("no /proc: CPU accounting needs Linux")
	}
	out := make(map[int]procStat, len(dirs))
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		pid, s, ok := parseStat(b)
		if ok {
			out[pid] = s
		}
	}
	return out, nil
}

// parseStat reads pid, ppid and the CPU times of a /proc/PID/stat line. The
// command name (field 2) is in parentheses and may hold spaces and
// parentheses, so the other fields are counted from the last ')'.
func parseStat(b []byte) (int, procStat, bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return 0, procStat{}, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return 0, procStat{}, false
	}
	f := bytes.Fields(b[end+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return 0, procStat{}, false
	}
	var s procStat
	if s.ppid, err = strconv.Atoi(string(f[1])); err != nil {
		return 0, procStat{}, false
	}
	for _, i := range []int{11, 12, 13, 14} { // fields 14–17: utime stime cutime cstime
		v, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, procStat{}, false
		}
		s.ticks += v
	}
	return pid, s, true
}

// RunWithCPU is Run that also reports the CPU time this process and procs
// used from the end of the warm-up to the end of the run.
func RunWithCPU(ctx context.Context, sc Scenario, o Options, procs []CPUProc) (Report, error) {
	if len(procs) == 0 {
		return Run(ctx, sc, o)
	}
	type sample struct {
		at   time.Time
		self time.Duration
		cpu  []time.Duration
		err  error
	}
	take := func() sample {
		s := sample{at: time.Now()}
		if s.self, s.err = TreeCPU(os.Getpid()); s.err != nil {
			return s
		}
		for _, p := range procs {
			c, err := TreeCPU(p.PID)
			if err != nil {
				s.err = fmt.Errorf("%s: %w", p.Name, err)
				return s
			}
			s.cpu = append(s.cpu, c)
		}
		return s
	}
	first := make(chan sample, 1)
	timer := time.AfterFunc(o.Warmup, func() { first <- take() })
	rep, err := Run(ctx, sc, o)
	if !timer.Stop() {
		s0 := <-first
		s1 := take()
		if s0.err != nil || s1.err != nil {
			return rep, errors.Join(err, fmt.Errorf("CPU accounting: %w", errors.Join(s0.err, s1.err)))
		}
		c := &CPUReport{WindowS: s1.at.Sub(s0.at).Seconds(), Generator: (s1.self - s0.self).Seconds()}
		for i, p := range procs {
			p.Seconds = (s1.cpu[i] - s0.cpu[i]).Seconds()
			c.Procs = append(c.Procs, p)
		}
		rep.CPU = c
	}
	return rep, err
}
