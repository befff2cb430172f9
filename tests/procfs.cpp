#include "tests/procfs.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace procfs {

namespace {

std::string proc_path(pid_t pid, const char* file) {
    return "/proc/" + std::to_string(pid) + "/" + file;
}

double ticks_to_seconds(unsigned long long ticks) {
    return double(ticks) / double(::sysconf(_SC_CLK_TCK));
}

// A "Key:   1234 kB" line of /proc/<pid>/status.
std::optional<std::size_t> status_kib(pid_t pid, const std::string& key) {
    if (pid <= 0) {
        return std::nullopt;
    }
    std::ifstream in(proc_path(pid, "status"));
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(key + ":")) {
            return std::stoul(line.substr(key.size() + 1));
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<double> cpu_seconds(pid_t pid) {
    // The process's CPU-time clock, in nanoseconds: the same sum as
    // /proc/<pid>/stat's utime + stime, which counts in clock ticks (10 ms),
    // a few percent of a benchmark's 1-second window.
    clockid_t clock;
    timespec t{};
    if (pid <= 0 || ::clock_getcpuclockid(pid, &clock) != 0 ||
        ::clock_gettime(clock, &t) != 0) {
        return std::nullopt;
    }
    return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

std::optional<std::size_t> rss_kib(pid_t pid) {
    return status_kib(pid, "VmRSS");
}

std::optional<std::size_t> peak_rss_kib(pid_t pid) {
    return status_kib(pid, "VmHWM");
}

std::optional<std::size_t> fd_count(pid_t pid) {
    if (pid <= 0) {
        return std::nullopt;
    }
    std::error_code ec;
    std::filesystem::directory_iterator it(proc_path(pid, "fd"), ec);
    if (ec) {
        return std::nullopt;
    }
    std::size_t n = 0;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        if (ec) {
            return std::nullopt;
        }
        ++n;
    }
    return n;
}

std::optional<double> machine_busy_seconds() {
    std::ifstream st("/proc/stat");
    std::string cpu;
    // user nice system idle iowait irq softirq steal
    unsigned long long v[8] = {};
    st >> cpu;
    for (auto& x : v) {
        st >> x;
    }
    if (!st || cpu != "cpu") {
        return std::nullopt;
    }
    return ticks_to_seconds(v[0] + v[1] + v[2] + v[7]);
}

double self_cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

bool raise_fd_limit(std::size_t needed) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return false;
    }
    if (lim.rlim_cur >= needed) {
        return true;
    }
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            return false;
        }
    }
    return lim.rlim_cur >= needed;
}

}  // namespace procfs
