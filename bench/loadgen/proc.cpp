#include "proc.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace loadgen {

double machine_busy_s() {
    std::ifstream st("/proc/stat");
    std::string cpu;
    unsigned long long v[8] = {};
    st >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
    // user nice system idle iowait irq softirq steal. Not idle, iowait, nor
    // irq and softirq: loopback TCP is processed in softirq time that no
    // process is charged for, and that is the benchmark's own work.
    const auto busy = v[0] + v[1] + v[2] + v[7];
    return double(busy) / double(sysconf(_SC_CLK_TCK));
}

double self_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

namespace {

// utime + stime from /proc/PID/stat, -1 if unreadable.
double read_cpu_s(int pid) {
    std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(st)), {});
    // Fields after the command name, which may hold spaces: after ")".
    const auto rp = all.rfind(')');
    if (rp == std::string::npos) {
        return -1;
    }
    std::istringstream is(all.substr(rp + 2));
    std::string f;
    unsigned long long ut = 0, stt = 0;
    for (int i = 3; i <= 15 && is >> f; ++i) {
        if (i == 14) {
            ut = std::stoull(f);
        }
        if (i == 15) {
            stt = std::stoull(f);
        }
    }
    return double(ut + stt) / double(sysconf(_SC_CLK_TCK));
}

}  // namespace

proc_sample read_proc(int pid) {
    proc_sample s;
    if (pid <= 0) {
        return s;
    }
    s.cpu_s = read_cpu_s(pid);
    std::ifstream ss("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(ss, line);) {
        if (line.starts_with("VmRSS:")) {
            s.rss_kb = std::stol(line.substr(6));
        }
        if (line.starts_with("VmHWM:")) {
            s.hwm_kb = std::stol(line.substr(6));
        }
    }
    return s;
}

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace loadgen
