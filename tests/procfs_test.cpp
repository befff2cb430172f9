// tests/procfs: what /proc says about this very process, and about one
// that does not exist.
#include "tests/procfs.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>

using namespace std::chrono_literals;

TEST_CASE("procfs reads this process's descriptors, memory and CPU") {
    const auto self = ::getpid();
    const auto fds = procfs::fd_count(self);
    REQUIRE(fds.has_value());
    CHECK(*fds >= 3);  // stdin, stdout, stderr at least
    const int extra = ::dup(0);
    REQUIRE(extra >= 0);
    CHECK(procfs::fd_count(self) == *fds + 1);
    ::close(extra);

    const auto rss = procfs::rss_kib(self);
    const auto peak = procfs::peak_rss_kib(self);
    REQUIRE(rss.has_value());
    REQUIRE(peak.has_value());
    CHECK(*rss > 0);
    CHECK(*peak >= *rss);

    // Burn a little CPU: the process's own time and the machine's busy
    // time both move forward, and the process's agrees with getrusage.
    const auto cpu_before = procfs::cpu_seconds(self);
    const auto busy_before = procfs::machine_busy_seconds();
    REQUIRE(cpu_before.has_value());
    REQUIRE(busy_before.has_value());
    const auto end = std::chrono::steady_clock::now() + 100ms;
    volatile unsigned spin = 0;
    while (std::chrono::steady_clock::now() < end) {
        spin = spin + 1;
    }
    const auto cpu_after = procfs::cpu_seconds(self);
    REQUIRE(cpu_after.has_value());
    CHECK(*cpu_after >= *cpu_before);
    CHECK(*procfs::machine_busy_seconds() >= *busy_before);
    // To the nanosecond, not in clock ticks (10 ms): it agrees with
    // getrusage, read just after, to well within a tick.
    const double rusage = procfs::self_cpu_seconds();
    CHECK(rusage - *cpu_after > -0.001);
    CHECK(rusage - *cpu_after < 0.005);
}

TEST_CASE("procfs says nothing about a process that does not exist") {
    // Above the kernel's pid_max (at most 2^22): never a live pid.
    const pid_t none = (1 << 22) + 1;
    CHECK_FALSE(procfs::fd_count(none).has_value());
    CHECK_FALSE(procfs::rss_kib(none).has_value());
    CHECK_FALSE(procfs::peak_rss_kib(none).has_value());
    CHECK_FALSE(procfs::cpu_seconds(none).has_value());
    CHECK_FALSE(procfs::cpu_seconds(0).has_value());
}

TEST_CASE("raise_fd_limit raises the soft limit up to the hard one") {
    rlimit before{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
    CHECK(procfs::raise_fd_limit(1));  // already satisfied: no change
    if (before.rlim_max != RLIM_INFINITY) {
        CHECK_FALSE(procfs::raise_fd_limit(before.rlim_max + 1));
    }
    CHECK(procfs::raise_fd_limit(before.rlim_max));
    rlimit after{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
    CHECK(after.rlim_cur == before.rlim_max);
}
