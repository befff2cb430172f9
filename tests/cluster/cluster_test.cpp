// The reactors' cluster mode (docs/protocol.md, "Cluster mode"), in
// process: routers on one nats-server, frames crossing between them.
#include <map>
#include <random>

#include "cluster_fixture.hpp"
#include "stress/pair_traffic.hpp"
#include "stress/swarm.hpp"

using namespace testing;
using common::node_ids;

TEMPLATE_TEST_CASE("the article's it_works exchange, across two nodes",
                   "[cluster]",
                   ROUTER_CLUSTER_VARIANTS) {
    cluster<TestType> c(2);
    auto a = c.connect(0);
    auto b = c.connect(1);
    // Each node's ids: node 0's as a router alone has them, node 1's from
    // 2^24.
    CHECK(a.id() == 0);
    CHECK(b.id() == node_ids(1).first);
    a.send_frame(b.id(), "hello, number 2");
    expect_frame(b, "hello, number 2");
    b.send_frame(a.id(), "hello back, number 1");
    expect_frame(a, "hello back, number 1");
    // And within a node, as ever.
    auto a2 = c.connect(0);
    CHECK(a2.id() == 1);
    a2.send_frame(a.id(), "local");
    expect_frame(a, "local");
}

namespace {

// The payload of the n-th frame from peer `from` to peer `to`: says which,
// and of varied length.
std::string pair_payload(std::size_t from, std::size_t to, std::uint64_t n) {
    std::string p = std::to_string(from) + ">" + std::to_string(to) + "#" +
                    std::to_string(n) + ":";
    p.append(n * 31 % 300, static_cast<char>('a' + n % 26));
    return p;
}

// Checks what every peer received: from each sender, exactly the frames
// it sent that peer, in order. `sent[to][from]`: how many.
void check_received(swarm& s,
                    const std::vector<std::vector<std::uint64_t>>& sent) {
    for (std::size_t to = 0; to < s.size(); ++to) {
        std::vector<std::uint64_t> next(s.size(), 0);
        while (auto m = pop_message(s[to].in)) {
            const auto gt = m->find('>');
            REQUIRE(gt != std::string::npos);
            const std::size_t from = std::stoul(m->substr(0, gt));
            REQUIRE(from < s.size());
            INFO("peer " << from << " to peer " << to);
            REQUIRE(*m == message(pair_payload(from, to, next[from])));
            ++next[from];
        }
        CHECK(next == sent[to]);
    }
}

}  // namespace

TEMPLATE_TEST_CASE(
    "many clients on every node, each to random others: nothing lost, "
    "each pair in order",
    "[cluster]",
    ROUTER_CLUSTER_VARIANTS) {
    constexpr unsigned nodes = 3;
    constexpr std::size_t per_node = 12;
    constexpr int frames = sanitized ? 100 : 300;
    cluster<TestType> c(nodes);
    swarm s(c.port(0));
    for (unsigned k = 0; k < nodes; ++k) {
        for (std::size_t i = 0; i < per_node; ++i) {
            s.connect(0, c.port(k));
        }
    }
    s.pump_until(
        [&] {
            for (std::size_t i = 0; i < s.size(); ++i) {
                if (!s[i].id) {
                    return false;
                }
            }
            return true;
        },
        "every id");
    std::mt19937 random(24);
    std::uniform_int_distribution<std::size_t> anyone(0, s.size() - 1);
    std::vector<std::vector<std::uint64_t>> sent(
        s.size(), std::vector<std::uint64_t>(s.size(), 0));
    std::size_t expected_bytes = 0;
    std::vector<std::size_t> expected(s.size(), 0);
    for (int f = 0; f < frames; ++f) {
        for (std::size_t from = 0; from < s.size(); ++from) {
            const std::size_t to = anyone(random);
            const auto payload = pair_payload(from, to, sent[to][from]++);
            s[from].out += frame_bytes(*s[to].id, payload);
            expected[to] += payload.size() + 1;
            expected_bytes += payload.size() + 1;
        }
    }
    s.pump_until(
        [&] {
            for (std::size_t i = 0; i < s.size(); ++i) {
                if (s[i].in.size() < expected[i]) {
                    return false;
                }
            }
            return true;
        },
        "every frame delivered");
    check_received(s, sent);
}

TEMPLATE_TEST_CASE(
    "frames from one sender to one client of another node stay in order",
    "[cluster]",
    ROUTER_CLUSTER_VARIANTS) {
    constexpr int frames = sanitized ? 3000 : 20000;
    cluster<TestType> c(3);
    swarm s(c.port(0));
    const auto sender = s.connect();
    const auto at1 = s.connect(0, c.port(1));
    const auto at2 = s.connect(0, c.port(2));
    s.pump_until([&] { return s[sender].id && s[at1].id && s[at2].id; },
                 "the ids");
    // Sent all at once, two destinations interleaved: each one's frames
    // must come out as sent.
    std::vector<std::vector<std::uint64_t>> sent(
        3, std::vector<std::uint64_t>(3, 0));
    std::size_t bytes[3] = {0, 0, 0};
    for (int f = 0; f < frames; ++f) {
        for (std::size_t to : {at1, at2}) {
            const auto payload = pair_payload(sender, to, sent[to][sender]++);
            s[sender].out += frame_bytes(*s[to].id, payload);
            bytes[to] += payload.size() + 1;
        }
    }
    s.pump_until(
        [&] {
            return s[at1].in.size() >= bytes[at1] &&
                   s[at2].in.size() >= bytes[at2];
        },
        "every frame delivered");
    check_received(s, sent);
}

TEMPLATE_TEST_CASE("a node leaving: the others carry on, and it may join again",
                   "[cluster]",
                   ROUTER_CLUSTER_VARIANTS) {
    cluster<TestType> c(2);
    auto a = c.connect(0);
    auto b = c.connect(0);
    auto gone = c.connect(1);
    a.send_frame(gone.id(), "before");
    expect_frame(gone, "before");

    c.leave(1);
    CHECK(gone.closed_within());
    // Frames to its ids go nowhere (NATS core: no node subscribes to
    // them); the node's own traffic carries on. (Not to gone's own id:
    // the node that joins next hands it out again.)
    a.send_frame(node_ids(1).first + 1000, "into the void");
    a.send_frame(b.id(), "still here");
    expect_frame(b, "still here");

    // Its node number is free again: a new router takes it, with its ids
    // from the start of the node's range.
    c.join(1);
    auto back = c.connect(1);
    CHECK(back.id() == node_ids(1).first);
    a.send_frame(back.id(), "welcome back");
    expect_frame(back, "welcome back");
    back.send_frame(a.id(), "thanks");
    expect_frame(a, "thanks");
}
