// Unit tests of the router core's time: the write deadline
// (docs/protocol.md, point 8), driven by hand with a clock that only moves
// when a test moves it.
#include "router_core_support.hpp"

// --- Time: the write deadline (docs/protocol.md, point 8) ---

namespace {
constexpr auto timeout = 1000ms;
constexpr auto ns = std::chrono::nanoseconds(1);
}  // namespace

TEST_CASE("the write deadline starts when output appears", "[router_core]") {
    router_core core(100, 1000, timeout);
    const auto a = core.handle_connect(t0);
    CHECK(core.write_deadline(a) == t0 + timeout);  // its id is queued
    drain(core, a);
    CHECK_FALSE(core.write_deadline(a));
    // Nothing queued for a while, then a frame: timed from its arrival.
    const auto b = core.handle_connect(t0 + 5s);
    drain(core, b, t0 + 5s);
    core.handle_input(b, frame_bytes(a, "late"), t0 + 7s);
    CHECK(core.write_deadline(a) == t0 + 7s + timeout);
    // More output behind it does not move it.
    core.handle_input(b, frame_bytes(a, "later"), t0 + 7s + 500ms);
    CHECK(core.write_deadline(a) == t0 + 7s + timeout);
    CHECK(*core.poll_timeout() <= t0 + 7s + timeout);
}

TEST_CASE("the deadline moves only once all that was due by it is taken",
          "[router_core]") {
    router_core core(100, 1000, timeout);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    core.handle_input(a, frame_bytes(b, "one") + frame_bytes(b, "two"), t0);
    REQUIRE(core.write_deadline(b) == t0 + timeout);
    core.handle_written(b, 0, t0 + 500ms);  // the socket took nothing
    CHECK(core.write_deadline(b) == t0 + timeout);
    core.handle_written(b, 1, t0 + 800ms);  // a byte: not all that is due
    CHECK(core.write_deadline(b) == t0 + timeout);
    // More output behind it: due by the next deadline, not this one.
    core.handle_input(a, frame_bytes(b, "three"), t0 + 850ms);
    core.handle_written(b, 2 * msg("one").size() - 1, t0 + 900ms);
    CHECK(core.write_deadline(b) == t0 + 900ms + timeout);
    core.handle_timeout(t0 + timeout);  // the old deadline: nothing due
    CHECK(closures(core).empty());
    CHECK(core.poll_timeout() == t0 + 900ms + timeout);
    CHECK(core.output(b) == msg("three"));
}

TEST_CASE("the write deadline is cleared when output drains", "[router_core]") {
    router_core core(100, 1000, timeout);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a, t0 + 100ms);
    drain(core, b, t0 + 100ms);
    CHECK_FALSE(core.write_deadline(a));
    CHECK_FALSE(core.write_deadline(b));
    core.handle_timeout(t0 + 1h);
    CHECK(closures(core).empty());
    CHECK(core.size() == 2);
    CHECK_FALSE(core.poll_timeout());  // every stale entry is gone
    // New output: a new deadline, from then.
    core.handle_input(a, frame_bytes(b, "hi"), t0 + 2h);
    CHECK(core.write_deadline(b) == t0 + 2h + timeout);
    CHECK(core.poll_timeout() == t0 + 2h + timeout);
}

TEST_CASE("the write deadline fires at its instant, not a nanosecond before",
          "[router_core]") {
    router_core core(100, 1000, timeout);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    core.handle_timeout(t0 + timeout - ns);
    CHECK(closures(core).empty());
    CHECK(core.connected(b));
    core.handle_timeout(t0 + timeout);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == b);
    CHECK(closed[0].why == reason::write_timeout);
    CHECK_FALSE(core.connected(b));
    CHECK(core.output(b).empty());
    CHECK(core.connected(a));
    CHECK_FALSE(core.poll_timeout());
    // Frames to it are drops from now on, and it is not closed twice.
    core.handle_input(a, frame_bytes(b, "too late"), t0 + 2 * timeout);
    core.handle_timeout(t0 + 3 * timeout);
    CHECK(core.drops() == 1);
    CHECK(closures(core).empty());
}

TEST_CASE("a client that takes a byte now and then is still timed out",
          "[router_core]") {
    router_core core(100, 1 << 20, timeout);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    for (int i = 0; i < 100; ++i) {
        core.handle_input(a, frame_bytes(b, "0123456789"), t0);
    }
    // One byte every 100 ms, with the driver woken as asked each time.
    auto now = t0;
    for (int i = 0; i < 9; ++i) {
        now += 100ms;
        core.handle_written(b, 1, now);
        core.handle_timeout(now);
        REQUIRE(closures(core).empty());
    }
    core.handle_written(b, 1, t0 + timeout);
    core.handle_timeout(t0 + timeout);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == b);
    CHECK(closed[0].why == reason::write_timeout);
}

TEST_CASE("a client that takes each backlog in time is never timed out",
          "[router_core]") {
    router_core core(100, 1 << 20, timeout);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    // New output every 400 ms, for ever, and a backlog that never
    // drains: each time, the socket takes all but the last 5 bytes.
    auto now = t0;
    for (int i = 0; i < 50; ++i) {
        core.handle_input(a, frame_bytes(b, "0123456789"), now);
        now += 400ms;
        core.handle_timeout(now);
        REQUIRE(closures(core).empty());
        const auto left = core.output(b).size();
        core.handle_written(b, left > 11 ? left - 5 : 5, now);
        REQUIRE(core.poll_timeout() <= core.write_deadline(b));
    }
    CHECK(core.connected(b));
}

TEST_CASE("a zero write timeout means no deadline", "[router_core]") {
    router_core core(100, 1000, 0ms);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    core.handle_input(a, frame_bytes(b, "unread"), t0);
    CHECK_FALSE(core.write_deadline(a));
    CHECK_FALSE(core.write_deadline(b));
    CHECK_FALSE(core.poll_timeout());
    core.handle_timeout(t0 + 24h);
    CHECK(closures(core).empty());
    CHECK(core.size() == 2);
}

TEST_CASE("poll_timeout is the earliest write deadline", "[router_core]") {
    router_core core(100, 1000, timeout);
    CHECK_FALSE(core.poll_timeout());
    const auto a = core.handle_connect(t0);
    const auto b = core.handle_connect(t0 + 100ms);
    const auto c = core.handle_connect(t0 + 200ms);
    CHECK(core.poll_timeout() == t0 + timeout);
    // a drains: its entry stays, so the next wake-up may come early...
    drain(core, a, t0 + 300ms);
    CHECK(core.poll_timeout() <= t0 + 100ms + timeout);
    // ... and finds nothing due: then it is b's.
    core.handle_timeout(*core.poll_timeout());
    CHECK(closures(core).empty());
    CHECK(core.poll_timeout() == t0 + 100ms + timeout);
    // b makes progress: c's is the earliest now.
    drain(core, b, t0 + 400ms);
    core.handle_timeout(*core.poll_timeout());
    CHECK(closures(core).empty());
    CHECK(core.poll_timeout() == t0 + 200ms + timeout);
    core.handle_timeout(*core.poll_timeout());
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == c);
    CHECK_FALSE(core.poll_timeout());
}

TEST_CASE("a closed client's write deadline no longer fires", "[router_core]") {
    router_core core(100, 16, timeout);  // a hard limit of 64
    const auto a = core.handle_connect(t0);
    const auto gone = core.handle_connect(t0);
    const auto slow = core.handle_connect(t0);
    const auto bad = core.handle_connect(t0);
    drain(core, a);
    core.handle_disconnect(gone);  // with its id still queued
    core.handle_input(a, frame_bytes(slow, std::string(70, 's')), t0);
    core.handle_input(bad, id_bytes(a) + std::string(101, 'y'), t0);
    auto closed = closures(core);
    REQUIRE(closed.size() == 2);
    CHECK(closed[0].id == slow);
    CHECK(closed[0].why == reason::slow_consumer);
    CHECK(closed[1].id == bad);
    CHECK(closed[1].why == reason::protocol_error);
    CHECK_FALSE(core.write_deadline(slow));
    core.handle_timeout(t0 + 10 * timeout);
    CHECK(closures(core).empty());
    CHECK(core.size() == 1);
    CHECK_FALSE(core.poll_timeout());
}

TEST_CASE("poll_expired lists who is past its deadline; a last write saves it",
          "[router_core]") {
    router_core core(100, 1000, timeout);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    const auto c = core.handle_connect(t0 + 10ms);
    drain(core, a, t0 + 500ms);  // a's entry is stale now
    std::vector<client_id> expired;
    core.poll_expired(t0 + timeout - ns, expired);
    CHECK(expired.empty());
    core.poll_expired(t0 + timeout, expired);
    CHECK(expired == std::vector<client_id>{b});
    // The driver's last write: the socket takes all b owes, b is saved.
    core.handle_written(b, 4, t0 + timeout);
    expired.clear();
    core.poll_expired(t0 + timeout, expired);
    CHECK(expired.empty());
    core.handle_timeout(t0 + timeout);
    CHECK(closures(core).empty());
    // c, whose socket takes nothing, is not.
    core.poll_expired(t0 + 10ms + timeout, expired);
    CHECK(expired == std::vector<client_id>{c});
    core.handle_written(c, 0, t0 + 10ms + timeout);
    core.handle_timeout(t0 + 10ms + timeout);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == c);
    CHECK(core.connected(a));
    CHECK(core.connected(b));
}
