// A variant's built executable run as a child process, so that its
// descriptors, memory and CPU can be read from /proc (tests/procfs.hpp).
#pragma once

#include <sys/types.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client.hpp"
#include "process.hpp"
#include "tests/procfs.hpp"

namespace testing {

// A variant's executable, started with --port 0 and ROUTER_LOG=quiet
// (unless `env` sets ROUTER_LOG), optionally under `prlimit --nofile=N`.
class server_process {
  public:
    server_process(const std::string& variant,
                   std::vector<std::string> args = {},
                   std::optional<std::size_t> nofile = std::nullopt,
                   std::vector<std::string> env = {});
    std::uint16_t port() const { return port_; }
    pid_t pid() const { return proc_.pid(); }
    // For a failure message: "running", or how it ended and its stderr.
    std::string describe();
    // SIGTERM; the exit status (nullopt if it did not exit in time), and
    // whatever it wrote to stderr (a sanitizer's report, say) in `err`.
    std::optional<int> terminate(clock::duration within, std::string& err);

    // What /proc says about it; std::bad_optional_access once it is gone.
    std::size_t fds() const { return procfs::fd_count(pid()).value(); }
    std::size_t rss_kib() const { return procfs::rss_kib(pid()).value(); }
    std::size_t peak_rss_kib() const {
        return procfs::peak_rss_kib(pid()).value();
    }
    double cpu_seconds() const { return procfs::cpu_seconds(pid()).value(); }

  private:
    process proc_;
    std::uint16_t port_ = 0;
};

// The executable's name of a variant's server type.
template <class Server>
std::string variant() {
    return std::string(Server::info.name);
}

// Ends a test: the server must exit 0 on SIGTERM within the contract's
// 2 s, which under ASan includes LeakSanitizer's check (a leak exits 23)
// and under TSan any race report (exit 66). Returns how long it took.
inline clock::duration expect_clean_exit(server_process& srv) {
    std::string err;
    const auto start = clock::now();
    const auto status = srv.terminate(2s, err);
    const auto took = clock::now() - start;
    INFO("server stderr:\n" << err);
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    return took;
}

}  // namespace testing
