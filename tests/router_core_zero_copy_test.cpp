// Unit tests of the router core's zero-copy path: frames lent from the
// sender's read buffer, and every way they fall back to a copy.
#include <cstring>
#include <span>

#include "router_core_support.hpp"

// --- Zero-copy: frames lent from the sender's read buffer ---

namespace {

// `wire` read from `from`'s socket straight into its parser, as a reactor
// does; returns where it landed.
std::span<char> read_in(router_core& core,
                        client_id from,
                        const std::string& wire,
                        router_core::time_point now = t0) {
    auto space = core.read_buffer(from, 4096);
    REQUIRE(space.size() >= wire.size());
    std::memcpy(space.data(), wire.data(), wire.size());
    core.handle_input(from, wire.size(), now);
    return space.first(wire.size());
}

bool inside(std::string_view piece, std::span<char> buffer) {
    return piece.data() >= buffer.data() &&
           piece.data() + piece.size() <= buffer.data() + buffer.size();
}

// A gathered write that the socket takes up to `n` bytes of.
std::string write_gathered(router_core& core,
                           client_id id,
                           std::size_t n,
                           router_core::time_point now = t0) {
    std::string gathered;
    for (std::string_view piece : core.output_buffers(id)) {
        gathered += piece;
    }
    gathered.resize(std::min(n, gathered.size()));
    core.handle_written(id, gathered.size(), now);
    return gathered;
}

// Two clients whose ids were written: nothing is queued for either.
struct pair_fixture {
    router_core core{100, 1 << 20, 1000ms};
    client_id a = core.handle_connect(t0);
    client_id b = core.handle_connect(t0);
    pair_fixture() {
        write_gathered(core, a, 4);
        write_gathered(core, b, 4);
        to_flush(core);
    }
};

}  // namespace

TEST_CASE("fast path: a frame to an empty queue is lent, not copied",
          "[router_core][zero_copy]") {
    pair_fixture p;
    auto& core = p.core;
    const auto buffer =
        read_in(core,
                p.a,
                frame_bytes(p.b, "one") + frame_bytes(p.b, "two") +
                    frame_bytes(p.a, "self"));
    CHECK(to_flush(core) == std::vector<client_id>{p.b, p.a});
    const auto pieces = core.output_buffers(p.b);
    REQUIRE(pieces.size() == 2);  // both lent, gathered in one write
    CHECK(inside(pieces[0], buffer));
    CHECK(inside(pieces[1], buffer));
    CHECK(pieces[0] == msg("one"));
    CHECK(pieces[1] == msg("two"));
    CHECK(core.write_deadline(p.b) == t0 + 1000ms);  // as with a copy
    CHECK(write_gathered(core, p.b, 100) == msg("one") + msg("two"));
    CHECK(write_gathered(core, p.a, 100) == msg("self"));
    CHECK(core.copies().copied() == 0);
    CHECK(core.copies().delivered() == 4 + 4 + 5);  // ids not counted
    CHECK_FALSE(core.write_deadline(p.b));
    CHECK(core.output_buffers(p.b).empty());
}

TEST_CASE("fallback: a frame to a client with bytes queued is copied",
          "[router_core][zero_copy]") {
    router_core core(100, 1 << 20);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    write_gathered(core, a, 4);
    // b's id is still queued: the frame is copied behind it.
    const auto buffer = read_in(core, a, frame_bytes(b, "behind"));
    const auto pieces = core.output_buffers(b);
    REQUIRE(pieces.size() == 1);
    CHECK_FALSE(inside(pieces[0], buffer));
    CHECK(pieces[0] == id_bytes(b) + msg("behind"));
    CHECK(core.copies().copied() == msg("behind").size());
    CHECK(write_gathered(core, b, 100) == id_bytes(b) + msg("behind"));
    CHECK(core.copies().delivered() == msg("behind").size());
}

TEST_CASE("a write that stops mid-frame: the rest is copied, in order",
          "[router_core][zero_copy]") {
    pair_fixture p;
    auto& core = p.core;
    read_in(core, p.a, frame_bytes(p.b, "first") + frame_bytes(p.b, "second"));
    const auto all = msg("first") + msg("second");
    // The socket takes 3 bytes, in the middle of "first".
    CHECK(write_gathered(core, p.b, 3, t0 + 10ms) == all.substr(0, 3));
    CHECK(core.copies().copied() == all.size() - 3);
    CHECK(core.output(p.b) == all.substr(3));
    // Not all that was due by the deadline: it stays.
    CHECK(core.write_deadline(p.b) == t0 + 1000ms);
    // The sender's buffer is reused: what b is owed no longer lives there.
    read_in(core, p.a, frame_bytes(p.b, "third") + frame_bytes(p.a, "x"));
    CHECK(core.output(p.b) == all.substr(3) + msg("third"));
    CHECK(core.output_buffers(p.a).size() == 1);  // a's queue was empty
    CHECK(write_gathered(core, p.b, 1000) == all.substr(3) + msg("third"));
    CHECK(core.copies().copied() == all.size() - 3 + msg("third").size());
}

TEST_CASE("a write that takes nothing: frames copied, deadline kept",
          "[router_core][zero_copy]") {
    pair_fixture p;
    auto& core = p.core;
    read_in(core, p.a, frame_bytes(p.b, "stuck"), t0);
    CHECK(write_gathered(core, p.b, 0, t0 + 500ms).empty());
    CHECK(core.copies().copied() == msg("stuck").size());
    CHECK(core.output(p.b) == msg("stuck"));
    CHECK(core.write_deadline(p.b) == t0 + 1000ms);  // no progress
    core.handle_timeout(t0 + 1000ms);
    CHECK_FALSE(core.connected(p.b));
}

TEST_CASE("a sender that leaves before the write: its frames spilled",
          "[router_core][zero_copy]") {
    pair_fixture p;
    auto& core = p.core;
    const auto c = core.handle_connect(t0);
    write_gathered(core, c, 4);
    read_in(core, p.a, frame_bytes(p.b, "from a") + frame_bytes(c, "to c"));
    read_in(core, c, frame_bytes(p.b, "from c"));
    core.handle_disconnect(p.a);  // its parser, and buffer, are freed
    CHECK(core.copies().copied() ==
          msg("from a").size() + msg("from c").size() + msg("to c").size());
    CHECK(write_gathered(core, p.b, 1000) == msg("from a") + msg("from c"));
    CHECK(write_gathered(core, c, 1000) == msg("to c"));
}

TEST_CASE("a sender closed by the core: its lent frames are copied first",
          "[router_core][zero_copy]") {
    router_core core(8, 1 << 20);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    write_gathered(core, a, 4);
    write_gathered(core, b, 4);
    // A good frame, then one longer than max_frame: a is closed and freed.
    read_in(core, a, frame_bytes(b, "ok") + frame_bytes(b, "much too long"));
    CHECK_FALSE(core.connected(a));
    CHECK(closures(core).size() == 1);
    CHECK(write_gathered(core, b, 1000) == msg("ok"));
    CHECK(core.copies().copied() == msg("ok").size());
}

TEST_CASE("a sender read again before the write: its frames spilled",
          "[router_core][zero_copy]") {
    pair_fixture p;
    auto& core = p.core;
    const auto first = read_in(core, p.a, frame_bytes(p.b, "early"));
    CHECK(core.copies().copied() == 0);
    // The next read may land where "early" was: it is copied out first.
    auto space = core.read_buffer(p.a, 4096);
    CHECK(core.copies().copied() == msg("early").size());
    std::memset(space.data(), 'X', space.size());
    std::memset(first.data(), 'Y', first.size());  // as if reused
    const auto wire = frame_bytes(p.b, "late");
    std::memcpy(space.data(), wire.data(), wire.size());
    core.handle_input(p.a, wire.size(), t0);
    // "early" is queued now, so "late" is copied behind it.
    CHECK(write_gathered(core, p.b, 1000) == msg("early") + msg("late"));
    CHECK(core.copies().copied() == msg("early").size() + msg("late").size());
}

TEST_CASE("order holds across the two paths, from several senders",
          "[router_core][zero_copy]") {
    pair_fixture p;
    auto& core = p.core;
    const auto c = core.handle_connect(t0);
    write_gathered(core, c, 4);
    std::string from_a, from_c, expected;
    for (int i = 0; i < 40; ++i) {
        from_a += frame_bytes(p.b, "a" + std::to_string(i));
        from_c += frame_bytes(p.b, "c" + std::to_string(i));
    }
    for (int i = 0; i < 40; ++i) {
        expected += msg("a" + std::to_string(i));
    }
    for (int i = 0; i < 40; ++i) {
        expected += msg("c" + std::to_string(i));
    }
    read_in(core, p.a, from_a);
    read_in(core, c, from_c);
    // One gathered write: 63 frames lent, the last 17 copied behind them.
    const auto pieces = core.output_buffers(p.b);
    CHECK(pieces.size() == common::max_gather);
    CHECK(core.output(p.b) == expected);
    const auto copied = core.copies().copied();
    CHECK(copied > 0);
    CHECK(copied < expected.size() / 2);
    // Taken piecemeal: 50 bytes, then a new frame from a arrives (a's
    // buffer is reused first), then the rest.
    std::string got = write_gathered(core, p.b, 50);
    read_in(core, p.a, frame_bytes(p.b, "a-last"));
    expected += msg("a-last");
    got += write_gathered(core, p.b, 1 << 20);
    CHECK(got == expected);
    CHECK(core.copies().delivered() == expected.size());
}

TEST_CASE("lent frames count toward max_pending", "[router_core][zero_copy]") {
    router_core core(100, 12);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    write_gathered(core, a, 4);
    write_gathered(core, b, 4);
    read_in(core, a, frame_bytes(b, "12345") + frame_bytes(b, "123456"));
    CHECK_FALSE(core.connected(b));  // 6 + 7 bytes > 12
    CHECK(closures(core)[0].why == reason::over_max_pending);
    CHECK(core.output(b).empty());
}

TEST_CASE("frames shorter than lend_from are copied, longer ones lent",
          "[router_core][zero_copy]") {
    router_core core(100, 1 << 20, 0ms, 8);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    write_gathered(core, a, 4);
    write_gathered(core, b, 4);
    const auto buffer = read_in(core, a, frame_bytes(b, "tiny"));
    REQUIRE(core.output_buffers(b).size() == 1);
    CHECK_FALSE(inside(core.output_buffers(b)[0], buffer));
    CHECK(core.copies().copied() == msg("tiny").size());
    write_gathered(core, b, 100);
    const auto again = read_in(core, a, frame_bytes(b, "long enough"));
    REQUIRE(core.output_buffers(b).size() == 1);
    CHECK(inside(core.output_buffers(b)[0], again));
    CHECK(core.copies().copied() == msg("tiny").size());
}
