#include "cluster_fixture.hpp"

#include <signal.h>

namespace testing {

namespace {
std::vector<std::string> node_argv(const std::string& variant,
                                   const nats_server& bus,
                                   unsigned node,
                                   std::vector<std::string> extra) {
    std::vector<std::string> argv{binary_path(variant),
                                  "--port",
                                  "0",
                                  "--cluster",
                                  bus.url(),
                                  "--node",
                                  std::to_string(node)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}
}  // namespace

node_process::node_process(const std::string& variant,
                           const nats_server& bus,
                           unsigned node,
                           std::vector<std::string> extra)
    : proc_(node_argv(variant, bus, node, std::move(extra)),
            {"ROUTER_LOG=all"}) {
    port_ = port_of(proc_.read_stdout_line());
    if (port_ == 0) {
        throw std::runtime_error(variant + " node " + std::to_string(node) +
                                 " did not start: " + proc_.read_stderr_all());
    }
}

std::string node_process::wait_for_line(std::string_view needle) {
    const auto deadline = clock::now() + patience;
    for (;;) {
        const auto left = deadline - clock::now();
        if (left <= clock::duration::zero()) {
            throw timeout_error("no log line with: " + std::string(needle));
        }
        std::string line = proc_.read_stderr_line(left);
        if (line.find(needle) != line.npos) {
            return line;
        }
        if (line.empty() && proc_.wait(0s)) {
            throw std::runtime_error("exited before logging: " +
                                     std::string(needle));
        }
    }
}

std::optional<int> node_process::terminate() {
    proc_.signal(SIGTERM);
    return proc_.wait(2s);
}

}  // namespace testing
