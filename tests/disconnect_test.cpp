// docs/protocol.md point 7, and what stop() promises: nothing a client sent
// completely is lost when it leaves, and nothing is left behind.
#include <sys/socket.h>

#include "fixture.hpp"

using namespace testing;

TEMPLATE_TEST_CASE("frames sent just before closing are all delivered",
                   "[disconnect]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto b = r.connect();
    std::string expected;
    {
        auto a = r.connect();
        std::string wire;
        for (int i = 0; i < 500; ++i) {
            const auto payload = "parting frame " + std::to_string(i);
            wire += frame_bytes(b.id(), payload);
            expected += payload + '\0';
        }
        // A partial trailing frame is discarded, not forwarded.
        wire += frame_bytes(b.id(), "never complete").substr(0, 9);
        a.send(wire);
    }  // closed here, possibly before the server has read a byte
    expect(b, expected);
    CHECK(b.silent_for(200ms));
}

// The queuing minimal versions drop what is queued for a client at its
// end of file: a guarantee their server.cpp adds.
#ifndef ROUTER_MINIMAL_VERSIONS
// Point 7, a half-close: the client shuts down its sending side and keeps
// reading. What it sent itself comes back, then the end; repeated, for the
// end of file races the writing of the frame, and once with a frame of 12
// MiB, more than a new connection's socket buffers take at once: still
// being written when the end of file comes.
TEMPLATE_TEST_CASE("a half-closed client gets the frames it sent itself",
                   "[disconnect]",
                   ROUTER_VARIANTS) {
    auto opts = test_options();
    opts.max_frame = 16 << 20;
    running<TestType> r(opts);
    const auto deadline = clock::now() + 3 * patience;
    for (int i = 0; i < 30; ++i) {
        REQUIRE(clock::now() < deadline);
        auto c = r.connect();
        const auto payload = "before my end " + std::to_string(i);
        c.send(frame_bytes(c.id(), payload) + frame_bytes(c.id(), "and this"));
        c.shutdown_write();
        expect_frame(c, payload);
        expect_frame(c, "and this");
        CHECK(c.closed_within());
    }
    auto c = r.connect();
    const std::string big(12 << 20, 'b');
    c.send_frame(c.id(), big);
    c.shutdown_write();
    expect_frame(c, big);
    CHECK(c.closed_within());
}
#endif

TEMPLATE_TEST_CASE("frames to a client that left are dropped",
                   "[disconnect]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto gone = r.connect();
    auto b = r.connect();
    const auto gone_id = gone.id();
    gone.close();
    // The server learns of the close asynchronously: keep sending to the
    // departed id until the drop is certain, proving the sender is served.
    const auto deadline = clock::now() + patience;
    for (int i = 0;; ++i) {
        REQUIRE(clock::now() < deadline);
        a.send_frame(gone_id, "into the void");
        a.send_frame(b.id(), "ping " + std::to_string(i));
        expect_frame(b, "ping " + std::to_string(i));
        if (i >= 20) {
            break;
        }
    }
    b.send_frame(a.id(), "still here");
    expect_frame(a, "still here");
}

TEMPLATE_TEST_CASE(
    "a client that resets its connection does not disturb "
    "the others",
    "[disconnect]",
    ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    {
        auto rude = r.connect();
        rude.send(frame_bytes(a.id(), "half a frame").substr(0, 10));
        linger l{1, 0};  // close with RST instead of FIN
        ::setsockopt(rude.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    a.send_frame(b.id(), "unaffected");
    expect_frame(b, "unaffected");
    CHECK(a.silent_for(100ms));
}

TEMPLATE_TEST_CASE("stop() closes every connection",
                   "[disconnect]",
                   ROUTER_VARIANTS) {
    auto r = std::make_unique<running<TestType>>();
    auto a = r->connect();
    auto b = r->connect();
    a.send(frame_bytes(b.id(), "partial"));  // a session mid-frame
    r->server.stop();
    r->server.stop();  // idempotent
    CHECK(a.closed_within(patience));
    CHECK(b.closed_within(patience));
}
