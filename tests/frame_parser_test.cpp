// Unit tests of the sans-I/O frame parser: no sockets, no threads.
#include "common/frame_parser.hpp"

#include <catch2/catch.hpp>
#include <random>

#include "client.hpp"

using common::frame;
using common::frame_parser;
using status = frame_parser::status;

namespace {

struct parsed {
    std::uint32_t dest;
    std::string message;
    bool operator==(const parsed&) const = default;
};

// Feeds `chunks` in order, draining every complete frame after each.
std::vector<parsed> parse_chunks(const std::vector<std::string>& chunks,
                                 std::size_t max_frame = 1 << 20,
                                 bool* too_long = nullptr) {
    frame_parser p(max_frame);
    std::vector<parsed> out;
    for (const auto& c : chunks) {
        p.feed(c);
        frame f;
        status s;
        while ((s = p.next(f)) == status::frame) {
            out.push_back({f.dest, std::string(f.message)});
        }
        if (s == status::too_long) {
            if (too_long != nullptr) {
                *too_long = true;
            }
            break;
        }
    }
    return out;
}

std::string three_frames() {
    return testing::frame_bytes(7, "first") + testing::frame_bytes(0, "") +
           testing::frame_bytes(0x01000200, "third, with a zero-laden id");
}

}  // namespace

TEST_CASE("frames in one chunk come out in order", "[frame_parser]") {
    const auto got = parse_chunks({three_frames()});
    REQUIRE(got.size() == 3);
    CHECK(got[0] == parsed{7, std::string("first") + '\0'});
    CHECK(got[1] == parsed{0, std::string(1, '\0')});
    CHECK(got[2] == parsed{0x01000200,
                           std::string("third, with a zero-laden id") + '\0'});
}

TEST_CASE("every split point of a stream gives the same frames",
          "[frame_parser]") {
    const auto wire = three_frames();
    const auto whole = parse_chunks({wire});
    for (std::size_t i = 0; i <= wire.size(); ++i) {
        for (std::size_t j = i; j <= wire.size(); ++j) {
            INFO("cut at " << i << " and " << j);
            REQUIRE(parse_chunks({wire.substr(0, i),
                                  wire.substr(i, j - i),
                                  wire.substr(j)}) == whole);
        }
    }
}

TEST_CASE("byte by byte gives the same frames", "[frame_parser]") {
    const auto wire = three_frames();
    std::vector<std::string> bytes;
    for (char c : wire) {
        bytes.emplace_back(1, c);
    }
    CHECK(parse_chunks(bytes) == parse_chunks({wire}));
}

TEST_CASE("an id made of zero bytes is not taken for a terminator",
          "[frame_parser]") {
    const auto got = parse_chunks({std::string(4, '\0') + "x" + '\0'});
    REQUIRE(got.size() == 1);
    CHECK(got[0] == parsed{0, std::string("x") + '\0'});
}

TEST_CASE("a frame of exactly max_frame bytes passes, one more fails",
          "[frame_parser]") {
    bool too_long = false;
    auto ok = parse_chunks(
        {testing::frame_bytes(1, std::string(10, 'a'))}, 10, &too_long);
    CHECK(ok.size() == 1);
    CHECK_FALSE(too_long);
    auto bad = parse_chunks(
        {testing::frame_bytes(1, std::string(11, 'a'))}, 10, &too_long);
    CHECK(bad.empty());
    CHECK(too_long);
}

TEST_CASE("an unterminated frame is refused as soon as it passes the limit",
          "[frame_parser]") {
    frame_parser p(100);
    frame f;
    p.feed(std::string(4, '\1') + std::string(100, 'z'));
    CHECK(p.next(f) == status::need_more);  // could still end in a 0
    p.feed("z");
    CHECK(p.next(f) == status::too_long);
    CHECK(p.next(f) == status::too_long);  // and stays refused
}

TEST_CASE("a partial frame's buffer stays bounded by the limit",
          "[frame_parser]") {
    frame_parser p(1000);
    frame f;
    p.feed(std::string(4, '\1'));
    std::size_t fed = 4;
    auto s = status::need_more;
    while (s == status::need_more) {
        p.feed(std::string(7, 'q'));
        fed += 7;
        s = p.next(f);
        REQUIRE(p.buffered() <= 4 + 1000 + 1 + 7);
    }
    CHECK(s == status::too_long);
    CHECK(fed <= 4 + 1000 + 1 + 7);
}

TEST_CASE("a frame trickling in is scanned once, not again per byte",
          "[frame_parser]") {
    // 1 MiB arriving a byte at a time: a parser that rescanned from the
    // start of the frame would do ~5e11 byte comparisons and time out the
    // test; a resumed scan does ~1e6.
    frame_parser p(1 << 20);
    frame f;
    p.feed(std::string(4, '\2'));
    for (int i = 0; i < (1 << 20); ++i) {
        p.feed("w");
        REQUIRE(p.next(f) == status::need_more);
    }
    p.feed(std::string(1, '\0'));
    REQUIRE(p.next(f) == status::frame);
    CHECK(f.message.size() == (1u << 20) + 1);
}

TEST_CASE("prepare/commit reads in place and keeps earlier frames valid",
          "[frame_parser]") {
    frame_parser p(1 << 20);
    const auto wire = three_frames() + testing::frame_bytes(9, "partial");
    auto space = p.prepare(wire.size() - 3);
    std::copy(wire.begin(), wire.end() - 3, space.begin());
    p.commit(wire.size() - 3);
    std::vector<frame> frames(3);
    for (auto& f : frames) {
        REQUIRE(p.next(f) == status::frame);
    }
    frame f;
    CHECK(p.next(f) == status::need_more);
    // All three views are still readable before the next prepare().
    CHECK(frames[0].message == std::string("first") + '\0');
    CHECK(frames[2].message.size() == 28);
    space = p.prepare(3);
    std::copy(wire.end() - 3, wire.end(), space.begin());
    p.commit(3);
    REQUIRE(p.next(f) == status::frame);
    CHECK(f.dest == 9);
    CHECK(f.message == std::string("partial") + '\0');
}

TEST_CASE("random streams cut at random points match the whole-buffer parse",
          "[frame_parser]") {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        std::string wire;
        const int n = std::uniform_int_distribution<>(0, 20)(rng);
        for (int i = 0; i < n; ++i) {
            std::string payload(std::uniform_int_distribution<>(0, 50)(rng),
                                'p');
            wire += testing::frame_bytes(rng(), payload);
        }
        std::vector<std::string> chunks;
        for (std::size_t pos = 0; pos < wire.size();) {
            auto len = std::uniform_int_distribution<std::size_t>(
                0, wire.size() - pos)(rng);
            chunks.push_back(wire.substr(pos, len));
            pos += len;
        }
        REQUIRE(parse_chunks(chunks) == parse_chunks({wire}));
        REQUIRE(parse_chunks({wire}).size() == std::size_t(n));
    }
}
