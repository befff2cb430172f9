#include "server_watch.hpp"

#include <algorithm>
#include <cmath>

#include "tests/procfs.hpp"

namespace loadgen {

namespace {
// -1 stands for "unknown" in the report: no --server-pid, or it is gone.
double cpu_of(int pid) {
    return pid > 0 ? procfs::cpu_seconds(pid).value_or(-1) : -1;
}
long kib(std::optional<std::size_t> v) {
    return v ? static_cast<long>(*v) : -1;
}
long rss_of(int pid) {
    return pid > 0 ? kib(procfs::rss_kib(pid)) : -1;
}
long peak_rss_of(int pid) {
    return pid > 0 ? kib(procfs::peak_rss_kib(pid)) : -1;
}
double busy() {
    return procfs::machine_busy_seconds().value_or(-1);
}
}  // namespace

server_watch::server_watch(boost::asio::io_context& ioc, int pid)
    : timer_(ioc), pid_(pid) {}

void server_watch::start() {
    if (pid_ > 0) {
        sample();
    }
}

void server_watch::sample() {
    if (stopped_) {
        return;
    }
    const long rss = rss_of(pid_);
    peak_rss_kb_ = std::max(peak_rss_kb_, rss);
    if (rss_start_kb_ < 0) {
        rss_start_kb_ = rss;
    }
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            sample();
        }
    });
}

void server_watch::window_start() {
    cpu_at_start_ = cpu_of(pid_);
    busy_at_start_ = busy();
    self_at_start_ = procfs::self_cpu_seconds();
}

void server_watch::window_end() {
    cpu_at_end_ = cpu_of(pid_);
    busy_at_end_ = busy();
    self_at_end_ = procfs::self_cpu_seconds();
}

void server_watch::stop(bool ran) {
    stopped_ = true;
    if (ran && cpu_at_end_ < 0) {
        cpu_at_end_ = cpu_of(pid_);
    }
    hwm_kb_ = peak_rss_of(pid_);
}

void server_watch::cut_off() {
    if (cpu_at_start_ >= 0 && cpu_at_end_ < 0) {
        cpu_at_end_ = cpu_of(pid_);
    }
    hwm_kb_ = peak_rss_of(pid_);
}

double server_watch::cpu_s() const {
    if (cpu_at_start_ >= 0 && cpu_at_end_ >= 0) {
        return cpu_at_end_ - cpu_at_start_;
    }
    return NAN;
}

double server_watch::others_cores(double window_s) const {
    if (busy_at_start_ < 0 || busy_at_end_ < 0 || cpu_at_start_ < 0) {
        return -1;
    }
    const double others = (busy_at_end_ - busy_at_start_) - cpu_s() -
                          (self_at_end_ - self_at_start_);
    return std::max(0.0, others) / window_s;
}

}  // namespace loadgen
