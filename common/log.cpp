#include "log.hpp"

#include <unistd.h>

#include <cstdlib>

#include "router_core.hpp"

namespace common {

void write_log_line(const std::string& line) {
    // ROUTER_LOG=quiet silences the servers that the test suite starts by
    // the hundred; errors a test cares about are asserted, not read.
    static const bool quiet = [] {
        const char* v = std::getenv("ROUTER_LOG");
        return v != nullptr && std::string(v) == "quiet";
    }();
    if (quiet) {
        return;
    }
    std::size_t done = 0;
    while (done < line.size()) {
        auto n = ::write(2, line.data() + done, line.size() - done);
        if (n <= 0) {
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

void log_frame_too_long(std::uint32_t id, std::size_t max_frame) {
    log("client ",
        id,
        ": frame longer than --max-frame (",
        max_frame,
        " bytes), closing it");
}

void log_drop(std::uint32_t dest, std::uint32_t from, std::uint64_t n) {
    log("dropped a frame from client ",
        from,
        " to unknown id ",
        dest,
        " (",
        n,
        " dropped so far)");
}

namespace {

void log_closure(const router_core::closure& c) {
    switch (c.why) {
        case router_core::close_reason::protocol_error:
            log_frame_too_long(c.id, c.limit);
            return;
        case router_core::close_reason::slow_consumer:
            log("client ",
                c.id,
                ": slow consumer, more than --max-pending (",
                c.limit,
                " bytes) queued, closing it");
            return;
        case router_core::close_reason::write_timeout:
            log("client ",
                c.id,
                ": took no output for --write-timeout (",
                c.limit,
                " ms), closing it");
            return;
    }
}

}  // namespace

void poll_close_and_log(router_core& core,
                        std::vector<router_core::closure>& out) {
    std::vector<router_core::dropped_frame> dropped;
    core.poll_dropped(dropped);
    for (const auto& d : dropped) {
        log_drop(d.dest, d.from, d.count);
    }
    const std::size_t first = out.size();
    core.poll_close(out);
    for (std::size_t i = first; i < out.size(); ++i) {
        log_closure(out[i]);
    }
}

void copy_counter::report() const {
    log("copies: delivered ",
        delivered(),
        " bytes, copied ",
        copied(),
        " bytes");
}

}  // namespace common
