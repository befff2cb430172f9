#include "server_watch.hpp"

#include <algorithm>
#include <cmath>

#include "proc.hpp"

namespace loadgen {

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
    const auto s = read_proc(pid_);
    peak_rss_kb_ = std::max(peak_rss_kb_, s.rss_kb);
    if (rss_start_kb_ < 0) {
        rss_start_kb_ = s.rss_kb;
    }
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            sample();
        }
    });
}

void server_watch::window_start() {
    cpu_at_start_ = read_proc(pid_).cpu_s;
    busy_at_start_ = machine_busy_s();
    self_at_start_ = self_cpu_s();
}

void server_watch::window_end() {
    cpu_at_end_ = read_proc(pid_).cpu_s;
    busy_at_end_ = machine_busy_s();
    self_at_end_ = self_cpu_s();
}

void server_watch::stop(bool ran) {
    stopped_ = true;
    if (ran && cpu_at_end_ < 0) {
        cpu_at_end_ = read_proc(pid_).cpu_s;
    }
    hwm_kb_ = read_proc(pid_).hwm_kb;
}

void server_watch::cut_off() {
    if (cpu_at_start_ >= 0 && cpu_at_end_ < 0) {
        cpu_at_end_ = read_proc(pid_).cpu_s;
    }
    hwm_kb_ = read_proc(pid_).hwm_kb;
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
