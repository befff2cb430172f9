#include "nats_server.hpp"

#include <signal.h>

#include <stdexcept>

namespace testing {

nats_server::nats_server() {
    start(0);
}

std::string nats_server::url() const {
    return "nats://127.0.0.1:" + std::to_string(port_);
}

void nats_server::kill() {
    proc_->signal(SIGKILL);
    if (!proc_->wait(patience)) {
        throw timeout_error("nats-server did not die");
    }
    proc_.reset();
}

void nats_server::restart() {
    start(port_);
}

// Port 0: `-p -1`, nats-server's "any free port". It logs the port it got,
// then that it is ready, on stderr.
void nats_server::start(std::uint16_t port) {
    const std::string p = port == 0 ? "-1" : std::to_string(port);
    proc_.emplace(
        std::vector<std::string>{NATS_SERVER_BIN, "-a", "127.0.0.1", "-p", p});
    const auto deadline = clock::now() + patience;
    const std::string listening = "Listening for client connections on ";
    for (;;) {
        const auto left = deadline - clock::now();
        const std::string line = proc_->read_stderr_line(
            left > clock::duration::zero() ? left : clock::duration::zero());
        if (line.empty() && proc_->wait(0s)) {
            throw std::runtime_error("nats-server exited at start");
        }
        if (line.find(listening) != line.npos) {
            port_ = port_of(line);
        } else if (line.find("Server is ready") != line.npos) {
            break;
        }
    }
    if (port_ == 0 || (port != 0 && port_ != port)) {
        throw std::runtime_error("nats-server: no port in its log");
    }
}

}  // namespace testing
