// The write deadline (docs/protocol.md, point 8), for every variant: a
// client that takes none of its output for --write-timeout is cut off, not
// sooner, and the others carry on. In the blocking models the deadline is
// also what ends the stall such a client causes (slow_consumer_test.cpp
// shows the stall itself). One that takes a little now and then, and one
// that reads promptly: write_policy_test.cpp.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <optional>
#include <system_error>
#include <thread>

#include "fixture.hpp"

using namespace testing;

namespace {

constexpr std::size_t MiB = 1024 * 1024;
constexpr std::chrono::milliseconds short_timeout{300};

// When the server ended c's connection (a reset, or the end of the
// stream), found without reading: a read would take some of c's output,
// and might let the write waiting for it finish. nullopt if not before
// `deadline`.
std::optional<clock::time_point> hangup_time(const client& c,
                                             clock::time_point deadline) {
    for (;;) {
        // POLLHUP and POLLERR (a reset) are reported whatever is asked.
        pollfd p{c.fd(), POLLRDHUP, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - clock::now());
        const int r = ::poll(&p, 1, std::max<int>(0, left.count()));
        if (r > 0) {
            return clock::now();
        }
        if (r == 0) {
            return std::nullopt;
        }
        if (errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
    }
}

}  // namespace

TEMPLATE_TEST_CASE(
    "a client that takes none of its output for --write-timeout is "
    "disconnected, not sooner, and the others carry on",
    "[write-timeout]",
    ROUTER_VARIANTS) {
    running<TestType> r(deadline_options(short_timeout));
    auto slow = r.connect();  // never reads
    auto flooder = r.connect();
    auto a = r.connect();
    auto b = r.connect();
    const auto start = clock::now();
    auto cut_off = std::async(std::launch::async, [&] {
        return hangup_time(slow, start + patience);
    });
    // 32 MiB: far more than the kernel buffers towards `slow` hold, so the
    // server soon has output for it that it does not take. In the blocking
    // models the flood waits with the stuck write, until the deadline; the
    // rest is then dropped, `slow` being gone.
    CHECK(flooder.flood(slow.id(), 32 * MiB, patience) >= 32 * MiB);
    const auto closed = cut_off.get();
    REQUIRE(closed.has_value());
    const auto took = *closed - start;
    INFO("cut off after "
         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
         << " ms");
    // Its output stopped moving after the flood started: cut off not
    // before the deadline, then, and within it plus a margin: for filling
    // the buffers, for the last bytes its kernel still takes after that
    // (about 300 ms later, on the machine this was written on), and for a
    // busy machine (a sanitizer build under load is several times slower
    // to fill them: reactor_select under TSan took over 2 s once).
    CHECK(took >= short_timeout);
    CHECK(took <= short_timeout + (sanitized ? 6s : 2s));
    // Everyone else carries on, the flooder included.
    a.send_frame(b.id(), "ping");
    expect(b, std::string("ping") + '\0');
    b.send_frame(a.id(), "pong");
    expect(a, std::string("pong") + '\0');
    a.send_frame(flooder.id(), "you too");
    expect(flooder, std::string("you too") + '\0');
    // What `slow` can still read ends in a reset: what the server held
    // for it is thrown away, not sent after the cut.
    CHECK(slow.reset_within(patience));
}

#if defined(ROUTER_BLOCKING_VARIANTS)
TEMPLATE_TEST_CASE(
    "in the blocking models --write-timeout bounds the stall a client that "
    "never reads causes",
    "[write-timeout]",
    ROUTER_BLOCKING_VARIANTS) {
    // Long enough to see the stall first, on a busy machine.
    constexpr std::chrono::milliseconds timeout{2000};
    running<TestType> r(deadline_options(timeout));
    auto slow = r.connect();  // never reads
    auto flooder = r.connect();
    auto a = r.connect();
    auto b = r.connect();
    const auto start = clock::now();
    // Stops once the server has taken nothing from the flooder for 1 s:
    // its write to `slow` waits, and so does everything else. (Not 200 ms:
    // about 300 ms into the stall, the kernel of a client that never reads
    // still took a few more KiB, on the machine this was written on; the
    // write deadline counts that as progress, and one more write then goes
    // through, and with it, at times, a waiting frame.)
    REQUIRE(flooder.flood(slow.id(), 64 * MiB, 1s) < 64 * MiB);
    a.send_frame(b.id(), "stuck behind the flood");
    CHECK(b.silent_for(300ms));
    // Until the deadline: then `slow` is cut off and everyone moves again,
    // though nobody read from `slow` or closed it.
    expect(b, std::string("stuck behind the flood") + '\0');
    const auto resumed = clock::now() - start;
    INFO("resumed after "
         << std::chrono::duration_cast<std::chrono::milliseconds>(resumed)
                .count()
         << " ms");
    CHECK(resumed >= timeout);
    CHECK(resumed <= timeout + 2s);
    CHECK(slow.reset_within(patience));  // reset: nothing after the cut
}
#endif
