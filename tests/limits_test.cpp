// The total bound on a server (docs/protocol.md, "Limits"), for every
// variant: past --max-clients a newcomer is closed before its id, and the
// refusals are logged at most once a second; a client that leaves a frame
// unfinished past --frame-timeout is closed, while an idle one and one
// that completes its frames are not; the soft descriptor limit is raised
// to the hard one at start, and said so.
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/id.hpp"
#include "fixture.hpp"
#include "process.hpp"

using namespace testing;

namespace {

template <class Server>
std::string exe() {
    return binary_path(Server::info.name);
}

// The servers under test log (the suite's default is quiet).
const std::vector<std::string> logging = {"ROUTER_LOG=normal"};

std::size_t lines_with(const std::string& text, std::string_view what) {
    std::istringstream in(text);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) {
        n += line.find(what) != std::string::npos;
    }
    return n;
}

// A newcomer's first bytes: its id, or "" if it was closed without one.
std::string first_bytes(client& c) {
    std::string got = c.read_some();
    if (!got.empty() && got.size() < 4) {
        got += c.read_exactly(4 - got.size());
    }
    return got;
}

}  // namespace

TEMPLATE_TEST_CASE(
    "past --max-clients a newcomer is closed before its id, and one is "
    "taken again once a client leaves",
    "[limits]",
    ROUTER_VARIANTS) {
    std::vector<std::string> args{exe<TestType>(), "--max-clients", "3"};
    for (auto arg : threads_args<TestType>()) {
        args.push_back(arg);  // with shards, --max-clients is their total
    }
    args.insert(args.end(), {"--port", "0"});
    process p(args, logging);
    const auto port = port_of(p.read_stdout_line());
    REQUIRE(port != 0);
    const auto start = clock::now();
    std::vector<client> in;
    for (std::uint32_t i = 0; i < 3; ++i) {
        in.emplace_back(port);
        CHECK(in.back().id() == i);
    }
    constexpr int refused = 20;
    for (int i = 0; i < refused; ++i) {
        client c(port, false);
        CHECK(first_bytes(c).empty());
    }
    in[0].send_frame(in[1].id(), "still served");
    expect_frame(in[1], "still served");
    in.pop_back();
    // Its departure may reach the server after the next connection does:
    // until then, newcomers are refused.
    std::string got;
    const auto deadline = clock::now() + patience;
    while (got.empty()) {
        REQUIRE(clock::now() < deadline);
        client c(port, false);
        got = first_bytes(c);
        if (!got.empty()) {
            // The refused took no id: the next one is 3.
            CHECK(common::decode_id(got.data()) == 3);
            c.send_frame(in[0].id(), "in at last");
            expect_frame(in[0], "in at last");
        }
    }
    const double seconds =
        std::chrono::duration<double>(clock::now() - start).count();
    p.signal(SIGTERM);
    REQUIRE(p.wait() == 0);
    const auto err = p.read_stderr_all();
    INFO(err);
    const auto lines = lines_with(err, "refused a client: --max-clients (3)");
    CHECK(lines >= 1);
    CHECK(lines <= 1 + static_cast<std::size_t>(seconds));
}

TEMPLATE_TEST_CASE(
    "a client that leaves a frame unfinished for --frame-timeout is closed; "
    "an idle one and one that completes its frames are not",
    "[limits]",
    ROUTER_VARIANTS) {
    constexpr auto frame_timeout = 300ms;
    auto opts = test_options();
    opts.frame_timeout = frame_timeout;
    running<TestType> r(opts);
    auto idle = r.connect();  // connected first, and never sends
    auto steady = r.connect();
    auto stuck = r.connect();
    auto trickle = r.connect();
    const auto start = clock::now();
    stuck.send(frame_bytes(idle.id(), "never finished").substr(0, 10));
    // The trickle sends its frame a byte at a time: more bytes of the same
    // frame do not move its deadline. The steady client sends whole frames
    // to itself meanwhile, for longer than the deadline.
    const std::string slow = frame_bytes(idle.id(), std::string(200, 'x'));
    std::size_t sent = 0;
    bool cut = false;
    while (!cut) {
        REQUIRE(sent < slow.size());  // cut long before it is complete
        // Not client::send, which fails once the server has reset it.
        ::send(trickle.fd(), slow.data() + sent++, 1, MSG_NOSIGNAL);
        steady.send_frame(steady.id(), "whole");
        expect_frame(steady, "whole");
        cut = !trickle.silent_for(20ms);
    }
    CHECK(trickle.closed_within());
    CHECK(clock::now() - start >= frame_timeout);
    CHECK(stuck.closed_within());
    CHECK(clock::now() - start >= frame_timeout);
    // Well past the deadline, the idle client and the steady one remain.
    steady.send_frame(idle.id(), "still here");
    expect_frame(idle, "still here");
    idle.send_frame(steady.id(), "so am I");
    expect_frame(steady, "so am I");
}

TEMPLATE_TEST_CASE(
    "the soft descriptor limit is raised to the hard one at start, in one "
    "line",
    "[limits]",
    ROUTER_VARIANTS) {
    process p({"/usr/bin/prlimit",
               "--nofile=64:256",
               "--",
               exe<TestType>(),
               "--port",
               "0"},
              logging);
    REQUIRE(port_of(p.read_stdout_line()) != 0);
    std::ifstream limits("/proc/" + std::to_string(p.pid()) + "/limits");
    std::string line;
    while (std::getline(limits, line) && !line.starts_with("Max open files")) {
    }
    std::istringstream fields(
        line.substr(std::string("Max open files").size()));
    std::size_t soft = 0, hard = 0;
    fields >> soft >> hard;
    CHECK(soft == 256);
    CHECK(hard == 256);
    p.signal(SIGTERM);
    REQUIRE(p.wait() == 0);
    const auto err = p.read_stderr_all();
    INFO(err);
    CHECK(lines_with(err,
                     "descriptors: limit 256 (soft limit was 64, hard "
                     "limit 256)") == 1);
}
