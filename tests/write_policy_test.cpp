// Who the write policy cuts off and who it spares, in every model
// (docs/protocol.md, point 8 and --max-pending; docs/reliability.md):
//  - the write deadline bounds the time a write, or a backlog, takes to
//    drain, not the time between two bytes: a client that reads a little
//    every so often, far slower than its backlog, is cut off;
//  - a client that reads promptly is not, however long its sender keeps
//    sending;
//  - a burst past --max-pending to a client that reads promptly is
//    delivered whole.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "fixture.hpp"

using namespace testing;

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;

// Reads `chunk` bytes from `c` every `pace` until the server ends the
// connection (a reset, or the end of the stream): when that was, or
// nullopt if not before `deadline`. The pause is a poll for the end
// itself, so the end is seen when it comes, not at the next read.
std::optional<clock::time_point> trickle_until_cut(const client& c,
                                                   std::size_t chunk,
                                                   clock::duration pace,
                                                   clock::time_point deadline) {
    std::string buf(chunk, '\0');
    auto next_read = clock::now() + pace;
    while (clock::now() < deadline) {
        // POLLHUP and POLLERR (a reset) are reported whatever is asked;
        // POLLIN is not asked, so bytes waiting do not end the pause.
        pollfd p{c.fd(), POLLRDHUP, 0};
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::min(next_read, deadline) - clock::now());
        const int r = ::poll(&p, 1, std::max<int>(0, wait.count()));
        if (r > 0) {
            return clock::now();
        }
        if (r < 0 && errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if (clock::now() < next_read) {
            continue;
        }
        const auto n = ::recv(c.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return clock::now();
        }
        next_read += pace;
    }
    return std::nullopt;
}

}  // namespace

TEMPLATE_TEST_CASE(
    "a client that reads a little every so often, far slower than its "
    "backlog, is cut off by --write-timeout",
    "[write-timeout][write-policy]",
    ROUTER_VARIANTS) {
    constexpr std::chrono::milliseconds timeout{500};
    running<TestType> r(deadline_options(timeout));
    auto trickler = r.connect();
    auto flooder = r.connect();
    auto a = r.connect();
    auto b = r.connect();
    const int rcvbuf = 16 * KiB;
    ::setsockopt(trickler.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    const auto start = clock::now();
    // 4 KiB every 50 ms: it always takes some, never much.
    auto cut_off = std::async(std::launch::async, [&] {
        return trickle_until_cut(trickler, 4 * KiB, 50ms, start + patience);
    });
    // 32 MiB: far more than the kernel buffers towards it hold, so the
    // server soon has output for it that it cannot write in time. In the
    // blocking models the flood waits with the stuck write, until the
    // deadline; the rest is then dropped, the trickler being gone.
    CHECK(flooder.flood(trickler.id(), 32 * MiB, patience) >= 32 * MiB);
    const auto closed = cut_off.get();
    REQUIRE(closed.has_value());
    const auto took = *closed - start;
    INFO("cut off after "
         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
         << " ms");
    // Not before the deadline; and within it plus a margin: for filling
    // the kernel buffers first (the deadline starts when the server holds
    // output it cannot write), for a reactor's first deadline, which may
    // cover only the little that was waiting when it started, the second
    // covering the backlog (so up to twice the deadline), and for a busy
    // machine (a sanitizer build under load is several times slower).
    CHECK(took >= timeout);
    CHECK(took <= 2 * timeout + (sanitized ? 6s : 2s));
    // Everyone else carries on, the flooder included.
    a.send_frame(b.id(), "ping");
    expect_frame(b, "ping");
    a.send_frame(flooder.id(), "you too");
    expect_frame(flooder, "you too");
}

TEMPLATE_TEST_CASE(
    "a client that reads promptly is not cut off by --write-timeout, "
    "however long its sender keeps sending",
    "[write-timeout][write-policy]",
    ROUTER_VARIANTS) {
    constexpr std::chrono::milliseconds timeout{500};
    running<TestType> r(deadline_options(timeout));
    auto reader = r.connect();
    auto sender = r.connect();
    // A small receive buffer, so that the kernel holds little for the
    // reader and the server's writes keep meeting a full socket.
    const int rcvbuf = 64 * KiB;
    ::setsockopt(reader.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    // A 16 KiB frame every 5 ms for 3 s, six times the deadline: about
    // 3 MiB/s, which the reader, reading whatever comes as it comes,
    // keeps up with. Paced by the clock, so a late frame is sent at once.
    constexpr std::size_t payload = 16 * KiB;
    constexpr int frames = 600;
    auto sending = std::async(std::launch::async, [&] {
        const auto one = frame_bytes(reader.id(), std::string(payload, 'p'));
        const auto begin = clock::now();
        for (int i = 0; i < frames; ++i) {
            std::this_thread::sleep_until(begin + i * 5ms);  // the pace
            sender.send(one);
        }
    });
    const auto start = clock::now();
    std::size_t got = 0, zeros = 0;
    while (got < frames * (payload + 1)) {
        const auto bytes = reader.read_some();
        REQUIRE_FALSE(bytes.empty());  // not closed
        got += bytes.size();
        zeros += std::count(bytes.begin(), bytes.end(), '\0');
    }
    sending.get();
    const auto took = clock::now() - start;
    INFO("read in "
         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
         << " ms");
    CHECK(got == frames * (payload + 1));
    CHECK(zeros == std::size_t(frames));
    CHECK(took > 4 * timeout);  // the deadline came and went, many times
    // Still connected: it can answer.
    reader.send_frame(sender.id(), "thanks");
    expect_frame(sender, "thanks");
}

TEMPLATE_TEST_CASE(
    "a burst past --max-pending to a client that reads promptly is "
    "delivered whole (16 senders, one 1 MiB frame each, default options)",
    "[write-policy][slow-consumer]",
    ROUTER_VARIANTS) {
    running<TestType> r;  // --max-pending 8 MiB, --max-frame 1 MiB
    auto reader = r.connect();
    constexpr int senders = 16;
    constexpr std::size_t payload = 1 * MiB;
    std::vector<client> from;
    for (int i = 0; i < senders; ++i) {
        from.push_back(r.connect());
    }
    // Each sender's frame is one letter, repeated, so that a frame cut
    // short or mixed with another shows.
    std::vector<std::future<void>> sending;
    for (int i = 0; i < senders; ++i) {
        sending.push_back(std::async(std::launch::async, [&, i] {
            from[i].send_frame(reader.id(),
                               std::string(payload, char('a' + i)));
        }));
    }
    const auto all = reader.read_exactly(senders * (payload + 1));
    for (auto& s : sending) {
        s.get();
    }
    std::string letters;
    for (std::size_t at = 0; at < all.size(); at += payload + 1) {
        const char letter = all[at];
        CHECK(all.find_first_not_of(letter, at) == at + payload);
        CHECK(all[at + payload] == '\0');
        letters += letter;
    }
    std::sort(letters.begin(), letters.end());
    CHECK(letters == "abcdefghijklmnop");
    // Still connected: it can answer.
    reader.send_frame(from[0].id(), "thanks");
    expect_frame(from[0], "thanks");
}
