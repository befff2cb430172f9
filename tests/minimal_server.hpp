// The minimal versions (<variant>/minimal.cpp) are whole programs, not
// libraries: the suite drives each through its executable, behind the
// interface of the in-process servers (common::router_server), so that the
// suite's protocol tests run on them unchanged (minimal.cmake).
#pragma once

#include <signal.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/options.hpp"
#include "common/server.hpp"
#include "process.hpp"

namespace testing {

template <const common::variant_info& Info>
class minimal_server {
  public:
    static constexpr const common::variant_info& info = Info;

    // Starts the executable with the options the tests set, and waits for
    // its listening line. Quiet: nobody reads its stderr before it exits.
    explicit minimal_server(const common::options& o)
        : child_(std::in_place,
                 command_line(o),
                 std::vector<std::string>{"ROUTER_LOG=quiet"}),
          port_(port_of(child_->read_stdout_line())) {}
    ~minimal_server() { stop(); }
    minimal_server(const minimal_server&) = delete;
    minimal_server& operator=(const minimal_server&) = delete;

    std::uint16_t port() const { return port_; }
    void start() {}  // serving since its listening line
    // SIGTERM, and the exit status checked: a crash, or a sanitizer's
    // report, fails the test that ran the server.
    void stop() {
        if (child_) {
            child_->signal(SIGTERM);
            CHECK(child_->wait() == 0);
            child_.reset();
        }
    }

  private:
    static std::vector<std::string> command_line(const common::options& o) {
        std::vector<std::string> args{binary_path(info.name),
                                      "--bind",
                                      o.bind,
                                      "--port",
                                      std::to_string(o.port),
                                      "--max-frame",
                                      std::to_string(o.max_frame)};
        if (o.threads != 0) {
            args.insert(args.end(), {"--threads", std::to_string(o.threads)});
        }
        return args;
    }

    std::optional<process> child_;
    std::uint16_t port_;
};

}  // namespace testing
