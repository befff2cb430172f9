// naive_mutex's two lessons, asserted: the article's deadlocking edit
// really hangs the article's own exchange (while clients that keep talking
// carry on, which is what makes the bug easy to miss), and the shipped
// version does not hang.
#include <algorithm>
#include <string>
#include <utility>

#include "fixture.hpp"

using namespace testing;

namespace {

// The article's `it_works`, first half: b waits for a's frame before it
// sends anything.
constexpr std::string_view hello = "hello, number 2";
// Ids are never reused and only a few are handed out here: a frame to
// this one is dropped (point 5), whoever sends it.
constexpr std::uint32_t nobody = 1000000;

common::options deadlock_options() {
    auto opts = test_options();
    opts.demo = true;
    return opts;
}

// Both clients send one numbered frame to the other per round, and read
// whatever has reached them, until each has received `count` frames.
// Returns what each received.
std::pair<std::string, std::string> talk(client& c, client& d, int count) {
    std::string to_c, to_d;
    auto frames_in = [](const std::string& s) {
        return std::count(s.begin(), s.end(), '\0');
    };
    // A round's short wait paces the sending: it is not what the test
    // relies on (each frame sent unblocks a delivery, however long the
    // wait).
    auto take = [](client& x, std::string& into) {
        if (!x.silent_for(50ms)) {
            into += x.read_some();
        }
    };
    const auto deadline = clock::now() + patience;
    for (int round = 0; frames_in(to_c) < count || frames_in(to_d) < count;
         ++round) {
        if (clock::now() > deadline) {
            throw timeout_error("the two clients stopped getting frames");
        }
        c.send_frame(d.id(), "from c " + std::to_string(round));
        d.send_frame(c.id(), "from d " + std::to_string(round));
        take(c, to_c);
        take(d, to_d);
    }
    return {to_c, to_d};
}

// The first `count` frames `from` sent, in order, as they arrive.
std::string expected_frames(std::string_view from, int count) {
    std::string out;
    for (int i = 0; i < count; ++i) {
        out += std::string(from) + std::to_string(i) + '\0';
    }
    return out;
}

}  // namespace

TEMPLATE_TEST_CASE("the default mode forwards the first frame",
                   "[naive_mutex][deadlock]",
                   naive_mutex::server) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    a.send_frame(b.id(), hello);
    expect_frame(b, hello);
}

TEMPLATE_TEST_CASE(
    "with --deadlock a frame waits until its destination sends something",
    "[naive_mutex][deadlock]",
    naive_mutex::server) {
    running<TestType> r(deadlock_options());
    auto a = r.connect();
    auto b = r.connect();
    a.send_frame(b.id(), hello);
    // b's session holds b's lock while it waits to read; a's session waits
    // for that lock to write to b. b, like the article's test, waits to
    // receive before it speaks: the frame does not arrive. 2 s stands in
    // for "never".
    CHECK(b.silent_for(2s));
    // Anything b sends ends its session's wait to read, and with it the
    // lock: a's frame goes through. (This one goes nowhere: point 5.)
    b.send_frame(nobody, "anything");
    expect_frame(b, hello);
}

TEMPLATE_TEST_CASE(
    "with --deadlock clients that keep sending to each other carry on",
    "[naive_mutex][deadlock]",
    naive_mutex::server) {
    running<TestType> r(deadlock_options());
    auto a = r.connect();
    auto b = r.connect();
    a.send_frame(b.id(), hello);
    REQUIRE(b.silent_for(500ms));
    // a's session waits for b's lock, but it let the table lock go first:
    // new clients get their ids (connect reads it, with a deadline), and
    // two clients that keep sending to each other get every frame, in
    // order, each frame sent letting the other's in.
    auto c = r.connect();
    auto d = r.connect();
    constexpr int count = 20;
    const auto [to_c, to_d] = talk(c, d, count);
    CHECK(to_c.substr(0, expected_frames("from d ", count).size()) ==
          expected_frames("from d ", count));
    CHECK(to_d.substr(0, expected_frames("from c ", count).size()) ==
          expected_frames("from c ", count));
    // All the while, b has been waiting for a's frame, and still is.
    CHECK(b.silent_for(100ms));
}
