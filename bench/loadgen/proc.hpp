// What /proc and getrusage say: the server's CPU time and memory, the whole
// machine's busy time, our own CPU time; and the descriptor limit.
//
// Kept apart so that it can give way to the shared common/procfs readers.
#pragma once

namespace loadgen {

struct proc_sample {
    double cpu_s = -1;  // utime + stime
    long rss_kb = -1, hwm_kb = -1;
};

// A process's CPU time and memory; all -1 if pid <= 0 or unreadable.
proc_sample read_proc(int pid);

// CPU time (s) the whole machine spent busy, from /proc/stat: with the
// server's and our own, it tells how much other processes took during the
// measured window, i.e. how far the figures can be trusted.
double machine_busy_s();

// This process's CPU time (s), user and system.
double self_cpu_s();

// Raises the soft limit on open descriptors to the hard one.
void raise_fd_limit();

}  // namespace loadgen
