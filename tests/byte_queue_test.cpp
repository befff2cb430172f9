// Unit tests of the reactors' output queue (common/reactor/byte_queue.hpp):
// bytes come out in order whatever the block boundaries, and a backlog
// never sits in one block that would have to be reallocated.
#include "common/reactor/byte_queue.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using common::byte_queue;

namespace {

std::string joined(const byte_queue& q, std::size_t max = 1 << 20) {
    std::vector<std::string_view> pieces;
    q.gather(pieces, max);
    std::string s;
    for (auto p : pieces) {
        REQUIRE(!p.empty());
        s += p;
    }
    return s;
}

}  // namespace

TEST_CASE("byte_queue: appended, prepended and consumed bytes stay in order") {
    std::mt19937 rng(7);
    byte_queue q;
    std::string model;
    char next = 'a';
    for (int step = 0; step < 2000; ++step) {
        const auto n = std::size_t(rng() % 20000);
        switch (rng() % 4) {
            case 0:
            case 1: {
                const std::string bytes(n, next);
                next = next == 'z' ? 'a' : char(next + 1);
                q.append(bytes);
                model += bytes;
                break;
            }
            case 2: {
                const std::string bytes(n % 300, '#');
                q.prepend(bytes);
                model.insert(0, bytes);
                break;
            }
            case 3: {
                const auto k = std::min(n, model.size());
                q.consume(k);
                model.erase(0, k);
                break;
            }
        }
        REQUIRE(q.size() == model.size());
        REQUIRE(q.empty() == model.empty());
    }
    CHECK(joined(q) == model);
}

TEST_CASE(
    "byte_queue: a backlog is many blocks of at most 64 KiB, gathered "
    "a few at a time") {
    byte_queue q;
    const std::string frame(1000, 'x');
    for (int i = 0; i < 8 * 1024; ++i) {  // 8 MB, past any one block
        q.append(frame);
    }
    std::vector<std::string_view> pieces;
    q.gather(pieces, 1 << 20);
    CHECK(pieces.size() > 100);
    for (auto p : pieces) {
        CHECK(p.size() <= 64 * 1024);
    }
    pieces.clear();
    q.gather(pieces, 64);
    CHECK(pieces.size() == 64);
    // Written in turns of what one gather holds, all of it comes out.
    std::size_t total = 0;
    while (!q.empty()) {
        pieces.clear();
        q.gather(pieces, 64);
        std::size_t n = 0;
        for (auto p : pieces) {
            n += p.size();
        }
        q.consume(n);
        total += n;
    }
    CHECK(total == 8u * 1024 * 1000);
}

TEST_CASE(
    "byte_queue: what a long frame leaves after filling the last block "
    "is one more piece") {
    byte_queue q;
    const std::string small(10, 'a');
    const std::string large(1 << 20, 'b');
    q.append(small);
    q.append(large);
    CHECK(q.size() == small.size() + large.size());
    std::vector<std::string_view> pieces;
    q.gather(pieces, 64);
    REQUIRE(pieces.size() == 2);
    CHECK(pieces[0].size() == 4096);  // the small first block, grown, filled
    CHECK(pieces[0].substr(0, small.size()) == small);
    CHECK(pieces[1].size() == small.size() + large.size() - 4096);
}

TEST_CASE(
    "byte_queue: a queue that only ever held a few bytes keeps a block "
    "of that size, not more") {
    byte_queue q;
    q.append("1234");  // a client's id
    q.consume(4);
    CHECK(q.empty());
    CHECK(q.capacity() == 4);  // an idle client's whole output buffer
}
