// Unit tests of the sans-I/O router core: events in, decisions out, no
// sockets. Each test plays the part of a reactor by hand. Time:
// router_core_time_test.cpp; the zero-copy path:
// router_core_zero_copy_test.cpp.
#include <cstring>

#include "router_core_support.hpp"

TEST_CASE("connect gives ids in order and queues each id first",
          "[router_core]") {
    router_core core(100, 1000);
    CHECK(core.handle_connect(t0) == 0);
    CHECK(core.handle_connect(t0) == 1);
    CHECK(core.handle_connect(t0) == 2);
    CHECK(to_flush(core) == std::vector<client_id>{0, 1, 2});
    CHECK(core.output(2) == id_bytes(2));
    core.handle_disconnect(1);
    CHECK(core.handle_connect(t0) == 3);  // not reused before a wrap
    CHECK_FALSE(core.connected(1));
    CHECK(core.size() == 3);
}

// The counter jumps to just below 2^32 after id 0 (the tests' id_jump).
TEST_CASE("past the wrap of the id counter, ids in use are skipped",
          "[router_core]") {
    constexpr client_id top = 0xffffffff;
    router_core core(100, 1000, 0ms, 0, 0ms, top - 1);
    const auto a = core.handle_connect(t0);
    CHECK(a == 0);
    CHECK(core.handle_connect(t0) == top - 1);
    const auto b = core.handle_connect(t0);
    CHECK(b == top);
    CHECK(core.handle_connect(t0) == 1);  // 0 is a's
    for (auto id : {a, b, top - 1, client_id{1}}) {
        drain(core, id);
    }
    to_flush(core);
    core.handle_input(b, frame_bytes(a, "to the first"), t0);
    CHECK(drain(core, a) == msg("to the first"));
    CHECK(drain(core, 1).empty());
}

TEST_CASE("a closed client's id is in use until its closure is polled",
          "[router_core]") {
    router_core core(4, 1000, 0ms, 0, 0ms, 0xffffffff);
    const auto a = core.handle_connect(t0);
    CHECK(core.handle_connect(t0) == 0xffffffff);
    core.handle_input(a, frame_bytes(a, "far too long"), t0);
    REQUIRE_FALSE(core.connected(a));
    // The driver has not taken the closure: it still holds a's socket.
    CHECK(core.handle_connect(t0) == 1);
    CHECK(closures(core).size() == 1);
    CHECK(core.handle_connect(t0) == 2);
}

TEST_CASE("every frame of one read is routed, in order", "[router_core]") {
    router_core core(100, 1000);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0),
               c = core.handle_connect(t0);
    for (auto id : {a, b, c}) {
        drain(core, id);
    }
    to_flush(core);
    core.handle_input(a,
                      frame_bytes(b, "one") + frame_bytes(c, "two") +
                          frame_bytes(b, "three") + frame_bytes(a, "self") +
                          frame_bytes(b, "partial").substr(0, 7),
                      t0);
    CHECK(to_flush(core) == std::vector<client_id>{b, c, a});
    CHECK(drain(core, b) == msg("one") + msg("three"));
    CHECK(drain(core, c) == msg("two"));
    CHECK(drain(core, a) == msg("self"));
    CHECK(closures(core).empty());
}

TEST_CASE("a frame split byte by byte is routed once complete",
          "[router_core]") {
    router_core core(100, 1000);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, b);
    to_flush(core);
    const auto wire = frame_bytes(b, "trickle");
    for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
        core.handle_input(a, wire.substr(i, 1), t0);
        REQUIRE(core.output(b).empty());
    }
    core.handle_input(a, wire.substr(wire.size() - 1), t0);
    CHECK(to_flush(core) == std::vector<client_id>{b});
    CHECK(drain(core, b) == msg("trickle"));
}

TEST_CASE("zero-copy input: read_buffer then received", "[router_core]") {
    router_core core(100, 1000);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, b);
    const auto wire = frame_bytes(b, "in place") + frame_bytes(b, "x");
    auto space = core.read_buffer(a, 4096);
    REQUIRE(space.size() == 4096);
    std::memcpy(space.data(), wire.data(), wire.size());
    core.handle_input(a, wire.size(), t0);
    CHECK(drain(core, b) == msg("in place") + msg("x"));
    CHECK(core.read_buffer(99, 10).empty());  // unknown id
}

TEST_CASE("a client is listed to flush only when its output was empty",
          "[router_core]") {
    router_core core(100, 1000);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    to_flush(core);  // b still holds its id: b is the driver's to write
    core.handle_input(a, frame_bytes(b, "queued behind the id"), t0);
    CHECK(to_flush(core).empty());
    // A short write: the rest stays queued, in order, still unlisted.
    core.handle_written(b, 2, t0);
    core.handle_input(a, frame_bytes(b, "more"), t0);
    CHECK(to_flush(core).empty());
    CHECK(drain(core, b) ==
          id_bytes(b).substr(2) + msg("queued behind the id") + msg("more"));
    core.handle_input(a, frame_bytes(b, "again"), t0);
    CHECK(to_flush(core) == std::vector<client_id>{b});
}

TEST_CASE("frames to unknown or departed ids are dropped and counted",
          "[router_core]") {
    router_core core(100, 1000);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    to_flush(core);
    core.handle_disconnect(b);
    core.handle_input(
        a, frame_bytes(b, "gone") + frame_bytes(7, "never was"), t0);
    CHECK(core.drops() == 2);
    CHECK(to_flush(core).empty());
    CHECK(closures(core).empty());
    CHECK(core.connected(a));
}

TEST_CASE("a client that leaves: its frames went, its output is dropped",
          "[router_core]") {
    router_core core(100, 1000);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, b);
    core.handle_input(a, frame_bytes(b, "sent before leaving") + "\0\0", t0);
    core.handle_disconnect(
        a);  // with its id still queued and half a frame read
    CHECK(drain(core, b) == msg("sent before leaving"));
    CHECK(core.output(a).empty());
    CHECK_FALSE(core.connected(a));
    core.handle_disconnect(a);  // harmless twice
    CHECK(core.size() == 1);
}

TEST_CASE("an over-long frame closes its sender after its earlier frames",
          "[router_core]") {
    router_core core(10, 1000);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, b);
    // Exactly max_frame is legal; one more byte without a 0 is not.
    core.handle_input(a,
                      frame_bytes(b, std::string(10, 'x')) + id_bytes(b) +
                          std::string(11, 'y'),
                      t0);
    CHECK(drain(core, b) == msg(std::string(10, 'x')));
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == a);
    CHECK(closed[0].why == reason::protocol_error);
    CHECK_FALSE(core.connected(a));
    CHECK(core.connected(b));
    CHECK(closures(core).empty());  // reported once
}

TEST_CASE("a slow consumer is closed past max_pending, others carry on",
          "[router_core]") {
    // No write deadline: past max_pending is at once past it for as long.
    router_core core(100, 64);
    const auto a = core.handle_connect(t0), slow = core.handle_connect(t0),
               b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    // `slow` never writes: its id (4 bytes) and 5 frames of 11 bytes fit
    // in 64; the sixth would not.
    const std::string ten(10, 's');
    for (int i = 0; i < 5; ++i) {
        core.handle_input(a, frame_bytes(slow, ten), t0);
        REQUIRE(closures(core).empty());
        CHECK(core.output(slow).size() <= 64);
    }
    core.handle_input(a, frame_bytes(slow, ten) + frame_bytes(b, "fine"), t0);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == slow);
    CHECK(closed[0].why == reason::over_max_pending);
    CHECK(closed[0].limit == 64);
    CHECK_FALSE(core.connected(slow));
    CHECK(core.output(slow).empty());
    CHECK(drain(core, b) == msg("fine"));
    // Later frames to it are drops, not a second closure.
    core.handle_input(a, frame_bytes(slow, ten), t0);
    CHECK(closures(core).empty());
    CHECK(core.drops() == 1);
}

TEST_CASE("max_pending bounds a backlog, not a frame", "[router_core]") {
    router_core core(100, 16);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    // 51 bytes to a client with nothing queued: taken, though past 16.
    const std::string fifty(50, 'f');
    core.handle_input(a, frame_bytes(b, fifty), t0);
    CHECK(closures(core).empty());
    // With those still queued, one byte more is past the limit.
    core.handle_input(a, frame_bytes(b, ""), t0);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == b);
    CHECK(closed[0].why == reason::over_max_pending);
}

TEST_CASE("a burst past max_pending is taken, if drained within write_timeout",
          "[router_core]") {
    // max_pending 100, so the hard limit is 400; frames of 91 bytes.
    router_core core(100, 100, 1000ms);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    const std::string ninety(90, 'n');
    for (int round = 0; round < 3; ++round) {
        const auto at = t0 + round * 2000ms;
        // Four frames at once: 364 bytes, past 100, within 400.
        for (int i = 0; i < 4; ++i) {
            core.handle_input(a, frame_bytes(b, ninety), at + i * 300ms);
        }
        REQUIRE(closures(core).empty());
        CHECK(drain(core, b, at + 999ms).size() == 4 * 91);
    }
    CHECK(core.connected(b));
}

TEST_CASE("past max_pending for write_timeout, closed when a frame arrives",
          "[router_core]") {
    router_core core(100, 100, 1000ms);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    const std::string ninety(90, 'n');
    core.handle_input(a, frame_bytes(b, ninety), t0);
    core.handle_input(a, frame_bytes(b, ninety), t0 + 100ms);  // past 100
    // The socket takes a little, the backlog stays past 100...
    core.handle_written(b, 10, t0 + 600ms);
    core.handle_input(a, frame_bytes(b, ""), t0 + 1100ms - 1ns);
    REQUIRE(closures(core).empty());
    // ... until write_timeout after it went past.
    core.handle_input(a, frame_bytes(b, ""), t0 + 1100ms);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == b);
    CHECK(closed[0].why == reason::over_max_pending);
    CHECK(closed[0].limit == 100);
}

TEST_CASE("past the hard limit, 4 x max_pending, closed at once",
          "[router_core]") {
    router_core core(100, 100, 1000ms);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    const std::string ninety(90, 'n');
    for (int i = 0; i < 4; ++i) {
        core.handle_input(a, frame_bytes(b, ninety), t0);  // 364 bytes
    }
    REQUIRE(closures(core).empty());
    core.handle_input(a, frame_bytes(b, ninety), t0);  // 455 > 400
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == b);
    CHECK(closed[0].why == reason::slow_consumer);
    CHECK(closed[0].limit == 400);
}

TEST_CASE("a client that floods itself is closed safely mid-read",
          "[router_core]") {
    router_core core(100, 32);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, b);
    std::string wire;
    for (int i = 0; i < 10; ++i) {
        wire += frame_bytes(a, "to me, to me");
    }
    wire += frame_bytes(b, "after");  // still routed: a sent it whole
    core.handle_input(a, wire, t0);
    const auto closed = closures(core);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == a);
    CHECK_FALSE(core.connected(a));
    CHECK(drain(core, b) == msg("after"));
}

TEST_CASE("output written piecemeal comes out whole and in order",
          "[router_core]") {
    router_core core(1000, 1 << 20);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, b);
    std::string expected, got;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 20; ++i) {
            const auto p = std::to_string(round) + "." + std::to_string(i);
            core.handle_input(a, frame_bytes(b, p), t0);
            expected += msg(p);
        }
        // The socket takes 37 bytes at a time, interleaved with arrivals.
        for (int w = 0; w < 3 && !core.output(b).empty(); ++w) {
            auto out = core.output(b).substr(0, 37);
            got += out;
            core.handle_written(b, out.size(), t0);
        }
    }
    got += drain(core, b);
    CHECK(got == expected);
    CHECK(core.output(b).empty());
}
