// Unit tests of the sans-I/O router core: events in, decisions out, no
// sockets. Each test plays the part of a reactor by hand.
#include "common/router_core.hpp"

#include <catch2/catch.hpp>
#include <cstring>

#include "client.hpp"

using common::client_id;
using common::router_core;
using reason = router_core::close_reason;
using testing::frame_bytes;
using namespace std::chrono_literals;

namespace {

// The core never reads a clock: the tests pass time by hand, from t0.
const router_core::time_point t0{};

std::vector<client_id> to_flush(router_core& core) {
    std::vector<client_id> out;
    core.poll_transmit(out);
    return out;
}

std::vector<router_core::closure> closures(router_core& core) {
    std::vector<router_core::closure> out;
    core.poll_close(out);
    return out;
}

// Everything queued for `id`, as a socket that takes it all would.
std::string drain(router_core& core,
                  client_id id,
                  router_core::time_point now = t0) {
    std::string out(core.output(id));
    core.handle_written(id, out.size(), now);
    return out;
}

std::string id_bytes(client_id id) {
    auto b = common::encode_id(id);
    return {b.begin(), b.end()};
}

std::string msg(std::string_view payload) {
    return std::string(payload) + '\0';
}

}  // namespace

TEST_CASE("connect gives ids in order and queues each id first",
          "[router_core]") {
    router_core core(100, 1000);
    CHECK(core.handle_connect(t0) == 0);
    CHECK(core.handle_connect(t0) == 1);
    CHECK(core.handle_connect(t0) == 2);
    CHECK(to_flush(core) == std::vector<client_id>{0, 1, 2});
    CHECK(core.output(2) == id_bytes(2));
    core.handle_disconnect(1);
    CHECK(core.handle_connect(t0) == 3);  // never reused
    CHECK_FALSE(core.connected(1));
    CHECK(core.size() == 3);
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
    CHECK(closed[0].why == reason::slow_consumer);
    CHECK_FALSE(core.connected(slow));
    CHECK(core.output(slow).empty());
    CHECK(drain(core, b) == msg("fine"));
    // Later frames to it are drops, not a second closure.
    core.handle_input(a, frame_bytes(slow, ten), t0);
    CHECK(closures(core).empty());
    CHECK(core.drops() == 1);
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

TEST_CASE("progress moves the write deadline, no progress does not",
          "[router_core]") {
    router_core core(100, 1000, timeout);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    drain(core, b);
    core.handle_input(a, frame_bytes(b, "one") + frame_bytes(b, "two"), t0);
    REQUIRE(core.write_deadline(b) == t0 + timeout);
    core.handle_written(b, 0, t0 + 500ms);  // the socket took nothing
    CHECK(core.write_deadline(b) == t0 + timeout);
    core.handle_written(b, 1, t0 + 800ms);  // one byte is progress
    CHECK(core.write_deadline(b) == t0 + 800ms + timeout);
    core.handle_timeout(t0 + timeout);  // the old deadline: nothing due
    CHECK(closures(core).empty());
    CHECK(core.poll_timeout() == t0 + 800ms + timeout);
    CHECK(core.output(b) == msg("one").substr(1) + msg("two"));
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

TEST_CASE("a client that keeps taking output is never timed out",
          "[router_core]") {
    router_core core(100, 1 << 20, timeout);
    const auto a = core.handle_connect(t0), b = core.handle_connect(t0);
    drain(core, a);
    for (int i = 0; i < 100; ++i) {
        core.handle_input(a, frame_bytes(b, "0123456789"), t0);
    }
    // One byte every 999 ms, with the driver woken as asked each time.
    auto now = t0;
    for (int i = 0; i < 50; ++i) {
        now += timeout - 1ms;
        core.handle_timeout(now);
        REQUIRE(closures(core).empty());
        core.handle_written(b, 1, now);
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
    router_core core(100, 64, timeout);
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

TEST_CASE("poll_expired lists who is past its deadline; progress saves it",
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
    // The driver's last write: the socket takes a byte, b is saved.
    core.handle_written(b, 1, t0 + timeout);
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
    CHECK(core.write_deadline(p.b) == t0 + 10ms + 1000ms);  // progress
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
    CHECK(pieces.size() == router_core::max_gather);
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
    CHECK(closures(core)[0].why == reason::slow_consumer);
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
