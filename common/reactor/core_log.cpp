// The lines the core's drivers write for it (poll_close_and_log,
// router_core.hpp): the core itself does no I/O.
#include "common/log.hpp"
#include "common/reactor/router_core.hpp"

namespace common {

namespace {

void log_closure(const router_core::closure& c) {
    switch (c.why) {
        case router_core::close_reason::protocol_error:
            log_frame_too_long(c.id, c.limit);
            return;
        case router_core::close_reason::slow_consumer:
            log("client ",
                c.id,
                ": slow consumer, more than the hard limit (",
                c.limit,
                " bytes) queued, closing it");
            return;
        case router_core::close_reason::frame_timeout:
            log_frame_timeout(c.id, std::int64_t(c.limit));
            return;
        case router_core::close_reason::over_max_pending:
            log("client ",
                c.id,
                ": slow consumer, more than --max-pending (",
                c.limit,
                " bytes) queued for --write-timeout, closing it");
            return;
        case router_core::close_reason::write_timeout:
            log("client ",
                c.id,
                ": did not take its output within --write-timeout (",
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

}  // namespace common
