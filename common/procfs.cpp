#include "common/procfs.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
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
    if (pid <= 0) {
        return std::nullopt;
    }
    std::ifstream in(proc_path(pid, "stat"));
    const std::string stat((std::istreambuf_iterator<char>(in)), {});
    // The command name may hold spaces: count fields after its ')'.
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 > stat.size()) {
        return std::nullopt;
    }
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0;
    for (int i = 3; fields >> field; ++i) {
        if (i == 14) {
            utime = std::stoull(field);
        } else if (i == 15) {
            return ticks_to_seconds(utime + std::stoull(field));
        }
    }
    return std::nullopt;
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
