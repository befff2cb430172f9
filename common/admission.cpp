#include "common/admission.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "common/net.hpp"

namespace common {

bool log_throttle::event(clock::time_point now) {
    ++pending_;
    if (logged_ && now - last_line_ < period) {
        return false;
    }
    logged_ = true;
    last_line_ = now;
    since_ = std::exchange(pending_, 0);
    return true;
}

bool admission::try_admit() {
    // Only the accept loop adds, so the load and the add need no CAS: a
    // concurrent left() only makes room.
    if (connected_.load(std::memory_order_relaxed) < max_clients_) {
        connected_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    if (refused_.event(log_throttle::clock::now())) {
        log("refused a client: --max-clients (",
            max_clients_,
            ") connected, closed before its id (refused since the last "
            "such line: ",
            refused_.since(),
            ")");
    }
    return false;
}

void admission::not_now(std::string_view what, const error_code& ec) {
    if (failed_.event(log_throttle::clock::now())) {
        log("cannot take a client now (",
            what,
            ": ",
            ec.message(),
            "): clients wait in the listen backlog, retried every ",
            accept_backoff.count(),
            " ms (failures since the last such line: ",
            failed_.since(),
            ")");
    }
}

void raise_descriptor_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        log("descriptors: cannot read the limit: ", std::strerror(errno));
        return;
    }
    const rlim_t before = lim.rlim_cur;
    if (lim.rlim_cur != lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            log("descriptors: limit ",
                before,
                ", not raised to the hard limit ",
                lim.rlim_max,
                ": ",
                std::strerror(errno));
            return;
        }
    }
    log("descriptors: limit ",
        lim.rlim_cur,
        " (soft limit was ",
        before,
        ", hard limit ",
        lim.rlim_max,
        ")");
}

}  // namespace common
