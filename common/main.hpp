// main() for every variant, and the part of it the limit line shares
// (bench/epoll_forwarder.cpp): parse the contract's command line, bind,
// print the `listening on` line, serve until SIGINT, SIGTERM or SIGHUP,
// stop cleanly.
#pragma once

#include <malloc.h>
#include <signal.h>

#include <exception>
#include <iostream>

#include "admission.hpp"
#include "log.hpp"
#include "net.hpp"
#include "options.hpp"
#include "server.hpp"
#include "signals.hpp"

namespace common {

// How much freed memory a heap keeps before glibc trims it (serve_main).
inline constexpr int keep_freed_heap = 64 << 20;

// The line a server writes when a stop signal ends it.
inline void log_stopping(const variant_info& info, int sig) {
    log(info.name, ": signal ", sig, ", shutting down");
}

// What every main() does around serving: parse the command line (an error
// is printed with the usage: exit status 2; --help prints the usage: 0),
// block the stop signals, then return `serve(opts, signals)`. A setup
// error it throws is printed as one line, with exit status 1 (not through
// log(): printed even when quiet).
template <class Serve>
int serve_main(int argc, char** argv, const variant_info& info, Serve serve) {
    auto parsed = parse_command_line(argc, argv, info);
    if (!parsed.opts) {
        std::cerr << info.name << ": " << parsed.error << "\n" << usage(info);
        return 2;
    }
    if (parsed.opts->help) {
        std::cout << usage(info);
        return 0;
    }
    // Logs go to stderr with write(2): when that is a pipe whose reader has
    // gone (`| head`, a restarted collector), the next line, which any
    // client can cause, would kill the server with SIGPIPE. Ignored, the
    // write fails with EPIPE and the line is lost, not the server.
    ::signal(SIGPIPE, SIG_IGN);
    // Room for --max-clients: the default soft limit (often 1024) would
    // be reached long before it (common/admission.hpp).
    raise_descriptor_limit();
    // glibc gives the free top of a heap back to the kernel once it passes
    // its trim threshold (128 KiB at first). A server that takes a read
    // buffer per read and gives it back when the socket is drained (so
    // that an idle client holds none) frees many of them at once, under
    // load, so each burst faults its pages in afresh: csp at 64 pairs x
    // 4 KiB spent 3x the CPU per message on it (docs/results.md, "Before
    // and after"). Freed memory is kept for reuse, up to this much a heap.
    ::mallopt(M_TRIM_THRESHOLD, keep_freed_heap);
    try {
        signal_waiter signals;
        return serve(*parsed.opts, signals);
    } catch (const std::exception& e) {
        std::cerr << info.name << ": " << e.what() << std::endl;
        return 1;
    }
}

template <router_server Server>
int run_main(int argc, char** argv) {
    return serve_main(
        argc, argv, Server::info, [](const options& opts, signal_waiter& s) {
            Server server(opts);
            server.start();
            const auto address = bind_address(opts);
            std::cout << listening_line(address, server.port()) << std::endl;
            if (!address.is_loopback()) {
                // Not through log(): printed even when logging is quiet.
                std::cerr << Server::info.name
                          << ": warning: not a loopback address; the router "
                             "has no authentication: any client that "
                             "connects can send to every id (docs/protocol.md"
                             ", \"What the router is not\")"
                          << std::endl;
            }
            log_stopping(Server::info, s.wait());
            server.stop();
            return 0;
        });
}

}  // namespace common
