// Unit tests of the router core's frame deadline (docs/protocol.md,
// point 9), driven by hand with a clock that only moves when a test moves
// it.
#include "router_core_support.hpp"

namespace {
constexpr auto frame_timeout = 300ms;
constexpr auto ns = std::chrono::nanoseconds(1);

// A core with the frame deadline only (no write deadline).
router_core frame_core() {
    return router_core(100, 1000, 0ms, 0, frame_timeout);
}
}  // namespace

TEST_CASE("a partial frame gets a deadline; completing it clears it",
          "[router_core]") {
    auto core = frame_core();
    const auto a = core.handle_connect(t0);
    CHECK_FALSE(core.frame_deadline(a));  // connected, silent: none
    CHECK_FALSE(core.poll_timeout());
    const std::string f = frame_bytes(a, "hello");
    core.handle_input(a, f.substr(0, 3), t0 + 1s);  // part of the id
    CHECK(core.frame_deadline(a) == t0 + 1s + frame_timeout);
    CHECK(*core.poll_timeout() <= t0 + 1s + frame_timeout);
    // More of the same frame does not move it: a trickle is cut off too.
    core.handle_input(a, f.substr(3, 4), t0 + 1s + 200ms);
    CHECK(core.frame_deadline(a) == t0 + 1s + frame_timeout);
    core.handle_input(a, f.substr(7), t0 + 1s + 250ms);  // complete
    CHECK_FALSE(core.frame_deadline(a));
    core.handle_timeout(t0 + 1h);
    CHECK(closures(core).empty());
    CHECK(core.connected(a));
}

TEST_CASE("a read that completes a frame and begins the next restarts it",
          "[router_core]") {
    auto core = frame_core();
    const auto a = core.handle_connect(t0);
    const std::string one = frame_bytes(a, "one"), two = frame_bytes(a, "2");
    core.handle_input(a, one.substr(0, 5), t0);
    REQUIRE(core.frame_deadline(a) == t0 + frame_timeout);
    core.handle_input(a, one.substr(5) + two.substr(0, 2), t0 + 200ms);
    CHECK(core.frame_deadline(a) == t0 + 200ms + frame_timeout);
    core.handle_timeout(t0 + frame_timeout);  // the first frame's: stale
    CHECK(closures(core).empty());
    CHECK(core.poll_timeout() == t0 + 200ms + frame_timeout);
}

TEST_CASE("a frame left unfinished past the deadline closes its sender",
          "[router_core]") {
    auto core = frame_core();
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    core.handle_input(a, frame_bytes(b, "never ends").substr(0, 9), t0);
    core.handle_timeout(t0 + frame_timeout - ns);
    CHECK(closures(core).empty());
    core.handle_timeout(t0 + frame_timeout);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == a);
    CHECK(closed[0].why == reason::frame_timeout);
    CHECK(closed[0].limit == std::uint64_t(frame_timeout.count()));
    CHECK_FALSE(core.connected(a));
    CHECK(core.connected(b));
    CHECK_FALSE(core.poll_timeout());
}

TEST_CASE("both deadlines due: the write deadline is the reason",
          "[router_core]") {
    router_core core(100, 1000, frame_timeout, 0, frame_timeout);
    const auto a = core.handle_connect(t0);          // its id: a write deadline
    core.handle_input(a, std::string(2, '\0'), t0);  // a partial frame
    core.handle_timeout(t0 + 1h);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].why == reason::write_timeout);
}

TEST_CASE("frame_timeout zero: no frame deadline", "[router_core]") {
    router_core core(100, 1000);
    const auto a = core.handle_connect(t0);
    core.handle_input(a, std::string(3, '\0'), t0);
    CHECK_FALSE(core.frame_deadline(a));
    CHECK_FALSE(core.poll_timeout());
}
