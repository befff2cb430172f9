#include "server_process.hpp"

#include <signal.h>

#include <algorithm>
#include <stdexcept>

namespace testing {

namespace {
std::vector<std::string> server_argv(const std::string& variant,
                                     std::vector<std::string> args,
                                     std::optional<std::size_t> nofile) {
    std::vector<std::string> argv;
    if (nofile) {
        // util-linux's prlimit sets the limit, then execs: same pid.
        argv = {
            "/usr/bin/prlimit", "--nofile=" + std::to_string(*nofile), "--"};
    }
    argv.push_back(binary_path(variant));
    argv.push_back("--port");
    argv.push_back("0");
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}
}  // namespace

server_process::server_process(const std::string& variant,
                               std::vector<std::string> args,
                               std::optional<std::size_t> nofile,
                               std::vector<std::string> env)
    : proc_(server_argv(variant, std::move(args), nofile), [&env] {
          if (std::none_of(env.begin(), env.end(), [](const auto& e) {
                  return e.starts_with("ROUTER_LOG=");
              })) {
              env.push_back("ROUTER_LOG=quiet");
          }
          return env;
      }()) {
    const auto line = proc_.read_stdout_line();
    port_ = port_of(line);
    if (port_ == 0) {
        throw std::runtime_error(variant + " did not start: '" + line + "'");
    }
}

std::string server_process::describe() {
    const auto status = proc_.wait(0ms);
    if (!status) {
        return "running";
    }
    std::string err;
    try {
        err = proc_.read_stderr_all(1s);
    } catch (const timeout_error&) {
    }
    return "exited with status " + std::to_string(*status) + "; stderr:\n" +
           err;
}

std::optional<int> server_process::terminate(clock::duration within,
                                             std::string& err) {
    proc_.signal(SIGTERM);
    auto status = proc_.wait(within);
    if (status) {
        try {
            err = proc_.read_stderr_all(2s);
        } catch (const timeout_error&) {
            err = "(stderr not closed)";
        }
    }
    return status;
}

}  // namespace testing
