// Unit tests of the inbox (common/reactor/inbox.hpp), the way another
// thread hands work to a reactor: bounded by weight, waited on as a
// descriptor, room heard of as an event. And of the parcel format
// (common/reactor/parcel.hpp).
#include "common/reactor/inbox.hpp"

#include <poll.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "common/reactor/parcel.hpp"

using namespace common;

namespace {

// Whether the signal's descriptor is readable now: what the reactor's
// epoll would report.
bool readable(wake_signal& s, int timeout_ms = 0) {
    pollfd p{s.descriptor().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
}

}  // namespace

TEST_CASE("an inbox is readable once something is pushed, until taken",
          "[inbox]") {
    asio::io_context ioc;
    inbox<int> box(ioc, 100);
    CHECK_FALSE(readable(box.ready()));
    CHECK(box.try_push(1, 10, nullptr));
    CHECK(readable(box.ready()));
    CHECK(box.try_push(2, 10, nullptr));
    std::vector<int> out;
    box.take_all(out);
    CHECK(out == std::vector<int>{1, 2});
    CHECK_FALSE(readable(box.ready()));
}

TEST_CASE(
    "a full inbox refuses, keeps the item, and signals room once "
    "taken",
    "[inbox]") {
    asio::io_context ioc;
    inbox<std::string> box(ioc, 10);
    wake_signal room(ioc);
    CHECK(box.try_push("first", 8, &room));
    std::string second = "second";
    CHECK_FALSE(box.try_push(std::move(second), 8, &room));
    CHECK(second == "second");  // left as it was
    CHECK_FALSE(readable(room));
    std::vector<std::string> out;
    box.take_all(out);
    CHECK(readable(room));
    room.clear();
    CHECK_FALSE(readable(room));
    CHECK(box.try_push(std::move(second), 8, &room));
    // Nothing refused since: no room signal for this take.
    out.clear();
    box.take_all(out);
    CHECK(out == std::vector<std::string>{"second"});
    CHECK_FALSE(readable(room));
}

TEST_CASE("an empty inbox takes an item heavier than its capacity", "[inbox]") {
    asio::io_context ioc;
    inbox<int> box(ioc, 10);
    CHECK(box.try_push(1, 1000, nullptr));
    CHECK_FALSE(box.try_push(2, 1, nullptr));
    box.push(3);  // never refused
    std::vector<int> out;
    box.take_all(out);
    CHECK(out == std::vector<int>{1, 3});
}

TEST_CASE("push_wait blocks its thread until the consumer makes room",
          "[inbox]") {
    asio::io_context ioc;
    inbox<int> box(ioc, 10);
    CHECK(box.try_push(1, 10, nullptr));
    std::thread producer([&] { box.push_wait(2, 10); });
    // The producer is blocked: the consumer takes the first item as soon
    // as it is ready, then waits for the second, with a deadline.
    std::vector<int> out;
    box.take_all(out);
    CHECK(out == std::vector<int>{1});
    out.clear();
    REQUIRE(readable(box.ready(), 10000));
    box.take_all(out);
    producer.join();
    CHECK(out == std::vector<int>{2});
}

TEST_CASE("items from many threads arrive whole, in order per producer",
          "[inbox]") {
    asio::io_context ioc;
    inbox<std::pair<int, int>> box(ioc, 64);
    constexpr int producers = 3, each = 2000;
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&box, p] {
            for (int i = 0; i < each; ++i) {
                box.push_wait({p, i}, 1);
            }
        });
    }
    std::vector<int> next(producers, 0);
    int total = 0;
    std::vector<std::pair<int, int>> out;
    while (total < producers * each) {
        REQUIRE(readable(box.ready(), 10000));
        out.clear();
        box.take_all(out);
        for (auto [p, i] : out) {
            REQUIRE(i == next[p]);
            ++next[p];
            ++total;
        }
    }
    for (auto& t : threads) {
        t.join();
    }
}

TEST_CASE("a parcel gives back its frames, in order", "[parcel]") {
    std::vector<char> parcel;
    pack_frame(parcel, 1, 2, std::string_view("hello\0", 6));
    pack_frame(parcel, 3, 4, std::string_view("\0", 1));
    std::vector<std::tuple<client_id, client_id, std::string>> got;
    unpack_frames(parcel, [&](client_id from, client_id dest, auto m) {
        got.emplace_back(from, dest, std::string(m));
    });
    REQUIRE(got.size() == 2);
    CHECK(got[0] ==
          std::tuple{client_id{1}, client_id{2}, std::string("hello\0", 6)});
    CHECK(got[1] ==
          std::tuple{client_id{3}, client_id{4}, std::string("\0", 1)});
}
