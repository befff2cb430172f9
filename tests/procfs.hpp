// What Linux says about a process and the machine (/proc, and a process's
// CPU-time clock), for the tests that watch a server from outside
// (tests/stress/) and for the load generator (bench/). Not linked into the
// servers.
//
// A reader returns nullopt when the process is gone or the file cannot be
// read: a test asserts with .value(), the load generator reports "unknown".
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <limits>
#include <optional>

namespace procfs {

// CPU time the process has used, user + system, all its threads, in
// seconds, to the nanosecond (its CPU-time clock, clock_getcpuclockid(3)).
std::optional<double> cpu_seconds(pid_t pid);

// Resident memory in KiB (/proc/<pid>/status): now (VmRSS) and its
// high-water mark (VmHWM).
std::optional<std::size_t> rss_kib(pid_t pid);
std::optional<std::size_t> peak_rss_kib(pid_t pid);

// How many descriptors the process holds (entries of /proc/<pid>/fd).
std::optional<std::size_t> fd_count(pid_t pid);

// CPU time, in seconds, the whole machine has spent busy since boot
// (/proc/stat: user, nice, system, steal). Not idle, iowait, irq or
// softirq: loopback TCP is processed in softirq time that no process is
// charged for, and that is a benchmark's own work. With a server's and
// one's own CPU time over the same window, it tells how much other
// processes took meanwhile.
std::optional<double> machine_busy_seconds();

// This process's own CPU time, user + system, in seconds (getrusage).
double self_cpu_seconds();

// Raises this process's soft descriptor limit (RLIMIT_NOFILE) to its hard
// limit if it is below `needed` (by default: whatever the hard limit
// allows). True if the soft limit is now at least `needed`.
bool raise_fd_limit(
    std::size_t needed = std::numeric_limits<std::size_t>::max());

}  // namespace procfs
