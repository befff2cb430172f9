// main() for every variant: parse the contract's command line, bind, print
// the `listening on` line, serve until SIGINT or SIGTERM, stop cleanly.
#pragma once

#include <iostream>

#include "log.hpp"
#include "net.hpp"
#include "options.hpp"
#include "server.hpp"

namespace common {

// Blocks SIGINT and SIGTERM in the calling thread and every thread started
// after it, so they can only be taken by `wait()`: no handler runs in the
// middle of a server's thread, and a signal sent the moment the `listening
// on` line is printed is not lost.
class signal_waiter {
  public:
    signal_waiter();
    int wait();  // returns the signal's number
};

template <router_server Server>
int run_main(int argc, char** argv) {
    const auto& info = Server::info;
    auto parsed = parse_command_line(argc, argv, info);
    if (!parsed.opts) {
        std::cerr << info.name << ": " << parsed.error << "\n" << usage(info);
        return 2;
    }
    const options& opts = *parsed.opts;
    if (opts.help) {
        std::cout << usage(info);
        return 0;
    }
    try {
        signal_waiter signals;
        Server server(opts);
        server.start();
        std::cout << listening_line(bind_address(opts), server.port())
                  << std::endl;
        const int sig = signals.wait();
        log(info.name, ": signal ", sig, ", shutting down");
        server.stop();
    } catch (const std::exception& e) {
        // Not through log(): a setup error is printed even when quiet.
        std::cerr << info.name << ": " << e.what() << std::endl;
        return 1;
    }
    return 0;
}

}  // namespace common
