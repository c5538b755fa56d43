package bench

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter reads how much CPU time each process of a run has used so far,
// by name. The benchmark's own process is "bench" (with its payers, and
// with the daemons too when they run in-process).
type cpuMeter func() map[string]time.Duration

// cpu is the deployment's cpuMeter: the benchmark's process, and each
// daemon process it started, as far as /proc tells (Linux).
func (d *deployment) cpu() map[string]time.Duration {
	out := map[string]time.Duration{}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		out["bench"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, p := range d.processes {
		if t, err := procCPU(p.cmd.Process.Pid); err == nil {
			out[p.name] = t
		}
	}
	return out
}

// clockTick is the unit of /proc/<pid>/stat's times: USER_HZ, which Linux
// fixes at 100 for user space.
const clockTick = 10 * time.Millisecond

// procCPU is the user and system time of a process, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(string(stat))
}

// parseStat is the user and system time in a /proc/<pid>/stat line.
func parseStat(stat string) (time.Duration, error) {
	// The command name, field 2, is in parentheses and may hold spaces and
	// parentheses: the fields counted are those after the last ')'.
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("bench: /proc stat line with %d fields after the command", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// perPayment is the CPU each process used between two readings, divided
// among n payments.
func perPayment(before, after map[string]time.Duration, n int) map[string]time.Duration {
	if n == 0 {
		return nil
	}
	out := map[string]time.Duration{}
	for name, t := range after {
		if t0, ok := before[name]; ok {
			out[name] = (t - t0) / time.Duration(n)
		}
	}
	return out
}

// cpuString is "CPU/payment: bench 60µs, gateway-1 300µs, …", by name.
func cpuString(cpu map[string]time.Duration) string {
	if len(cpu) == 0 {
		return ""
	}
	var parts []string
	var total time.Duration
	for _, name := range slices.Sorted(maps.Keys(cpu)) {
		parts = append(parts, fmt.Sprintf("%s %dµs", name, cpu[name].Microseconds()))
		total += cpu[name]
	}
	return fmt.Sprintf(", CPU/payment %dµs (%s)", total.Microseconds(), strings.Join(parts, ", "))
}
