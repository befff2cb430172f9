// docs/protocol.md points 1 to 5: ids, framing, forwarding, self-send, drops.
#include "fixture.hpp"

using namespace testing;

TEMPLATE_TEST_CASE("the article's it_works exchange",
                   "[routing]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    a.send_frame(b.id(), "hello, number 2");
    expect_frame(b, "hello, number 2");
    b.send_frame(a.id(), "hello back, number 1");
    expect_frame(a, "hello back, number 1");
}

TEMPLATE_TEST_CASE(
    "ids are given in accept order from 0, a departed one "
    "not reused",
    "[routing]",
    ROUTER_VARIANTS) {
    running<TestType> r;
    std::vector<client> clients;
    for (std::uint32_t i = 0; i < 5; ++i) {
        clients.push_back(r.connect());
        CHECK(clients.back().id() == i);
    }
    clients[2].close();
    CHECK(r.connect().id() == 5);
}

#ifndef ROUTER_MINIMAL_VERSIONS  // options::id_jump reaches no executable
// Point 1 past 2^32 accepts: the tests' hook (options::id_jump) numbers
// the second client 2^32 - 2, so the counter wraps at the fourth, while
// client 0 is still connected.
TEMPLATE_TEST_CASE("past the wrap of the id counter, ids in use are skipped",
                   "[routing]",
                   ROUTER_VARIANTS) {
    auto opts = test_options();
    opts.id_jump = 0xfffffffe;
    running<TestType> r(opts);
    auto first = r.connect();
    REQUIRE(first.id() == 0);
    std::vector<client> clients;
    std::vector<std::uint32_t> ids;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(r.connect());
        ids.push_back(clients.back().id());
    }
    CHECK(ids == std::vector<std::uint32_t>{0xfffffffe, 0xffffffff, 1, 2, 3});
    // Each reaches the right client: the first is still 0, and a newcomer
    // is reachable under its own id.
    for (auto& c : clients) {
        c.send_frame(first.id(), "to 0 from " + std::to_string(c.id()));
        expect_frame(first, "to 0 from " + std::to_string(c.id()));
        first.send_frame(c.id(), "from 0");
        expect_frame(c, "from 0");
        c.send_frame(c.id(), "to myself");
        expect_frame(c, "to myself");
    }
    // Newcomers that leave take nobody else's entry with them.
    while (clients.size() > 2) {
        clients.pop_back();
    }
    CHECK(r.connect().id() == 4);
    clients.back().send_frame(first.id(), "still here");
    expect_frame(first, "still here");
    CHECK(first.silent_for(50ms));
}
#endif

TEMPLATE_TEST_CASE("a frame split byte by byte is forwarded whole",
                   "[routing]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    const auto wire = frame_bytes(b.id(), "split across many segments");
    for (char c : wire) {
        a.send(std::string_view(&c, 1));
    }
    expect_frame(b, "split across many segments");
}

TEMPLATE_TEST_CASE("many frames in one write are all forwarded in order",
                   "[routing]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    auto c = r.connect();
    std::string wire, to_b, to_c;
    for (int i = 0; i < 200; ++i) {
        const auto payload = "frame " + std::to_string(i);
        auto& dest = i % 3 == 0 ? c : b;
        wire += frame_bytes(dest.id(), payload);
        (i % 3 == 0 ? to_c : to_b) += payload + '\0';
    }
    // The tail: the start of a frame that completes in a second write.
    wire += frame_bytes(b.id(), "last").substr(0, 6);
    a.send(wire);
    expect(b, to_b);
    expect(c, to_c);
    a.send(frame_bytes(b.id(), "last").substr(6));
    expect_frame(b, "last");
}

TEMPLATE_TEST_CASE("an empty payload forwards a single zero byte",
                   "[routing]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    a.send_frame(b.id(), "");
    expect(b, std::string(1, '\0'));
}

TEMPLATE_TEST_CASE("a frame to the sender's own id is delivered",
                   "[routing]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    a.send_frame(a.id(), "to myself");
    expect_frame(a, "to myself");
}

TEMPLATE_TEST_CASE("a frame to an unknown id is dropped, its sender served",
                   "[routing]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    a.send_frame(12345, "nobody");
    a.send_frame(b.id(), "after the drop");
    expect_frame(b, "after the drop");
    b.send_frame(a.id(), "still connected");
    expect_frame(a, "still connected");
}

TEMPLATE_TEST_CASE("payloads of every byte value but 0 pass intact",
                   "[routing]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    std::string payload;
    for (int i = 1; i < 256; ++i) {
        payload += static_cast<char>(i);
    }
    a.send_frame(b.id(), payload);
    expect_frame(b, payload);
}
