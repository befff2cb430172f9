// The command-line contract, checked on the built executables themselves.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.hpp"
#include "process.hpp"

using namespace testing;

namespace {
template <class Server>
std::string exe() {
    return binary_path(Server::info.name);
}
}  // namespace

TEMPLATE_TEST_CASE("the executable prints its listening line and routes",
                   "[smoke]",
                   ROUTER_VARIANTS) {
    process p({exe<TestType>(), "--port", "0"});
    const auto line = p.read_stdout_line();
    REQUIRE(line.starts_with("listening on 127.0.0.1:"));
    const auto port = port_of(line);
    REQUIRE(port != 0);
    client a(port), b(port);
    a.send_frame(b.id(), "over the wire");
    expect_frame(b, "over the wire");
}

TEMPLATE_TEST_CASE("a host name for --bind: it listens on its address",
                   "[smoke]",
                   ROUTER_VARIANTS) {
    process p({exe<TestType>(), "--bind", "localhost", "--port", "0"});
    const auto line = p.read_stdout_line();
    // localhost is 127.0.0.1 or ::1, whichever the resolver lists first.
    REQUIRE((line.starts_with("listening on 127.0.0.1:") ||
             line.starts_with("listening on [::1]:")));
    if (line.starts_with("listening on 127.0.0.1:")) {
        client a(port_of(line));
        CHECK(a.id() == 0);
    }
}

TEMPLATE_TEST_CASE("a host name that does not resolve exits 1 naming it",
                   "[smoke]",
                   ROUTER_VARIANTS) {
    process p({exe<TestType>(), "--bind", "no-such-host.invalid"});
    const auto err = p.read_stderr_all();
    CHECK(p.wait() == 1);
    CHECK(err.find("no-such-host.invalid") != std::string::npos);
}

TEMPLATE_TEST_CASE(
    "SIGTERM, SIGINT and SIGHUP exit 0 within 2 s, connections open",
    "[smoke]",
    ROUTER_VARIANTS) {
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
        process p({exe<TestType>(), "--port", "0"});
        const auto port = port_of(p.read_stdout_line());
        client a(port), b(port);
        a.send(frame_bytes(b.id(), "unfinished"));
        p.signal(sig);
        const auto status = p.wait(2s);
        REQUIRE(status.has_value());
        CHECK(*status == 0);
        CHECK(a.closed_within(1s));
    }
}

TEMPLATE_TEST_CASE(
    "a non-loopback --bind warns: the router has no authentication",
    "[smoke]",
    ROUTER_VARIANTS) {
    process p({exe<TestType>(), "--bind", "0.0.0.0", "--port", "0"});
    REQUIRE(p.read_stdout_line().starts_with("listening on 0.0.0.0:"));
    p.signal(SIGTERM);
    const auto err = p.read_stderr_all();
    CHECK(p.wait() == 0);
    CHECK(err.find("warning: not a loopback address") != err.npos);
    CHECK(err.find("no authentication") != err.npos);
}

TEMPLATE_TEST_CASE("a log reader that went away does not stop the server",
                   "[smoke]",
                   ROUTER_VARIANTS) {
    process p({exe<TestType>(), "--port", "0"});
    const auto port = port_of(p.read_stdout_line());
    p.close_stderr();  // as `server 2>&1 | head -1` once head has exited
    client a(port), b(port);
    // Frames to an unknown id: each drop may log a line, into the pipe
    // nobody reads any more.
    for (int i = 0; i < 20; ++i) {
        a.send_frame(1000 + i, "nobody");
    }
    a.send_frame(b.id(), "still routing");
    expect_frame(b, "still routing");
    CHECK_FALSE(p.wait(0s).has_value());  // alive, not killed by SIGPIPE
}

// (A test name must not start with "--": Catch would take it for an option.)
TEMPLATE_TEST_CASE("the executable's --help describes the options, exits 0",
                   "[smoke]",
                   ROUTER_VARIANTS) {
    process p({exe<TestType>(), "--help"});
    const auto out = p.read_stdout_all();
    CHECK(p.wait() == 0);
    for (auto option : {"--bind",
                        "--port",
                        "--max-frame",
                        "--max-pending",
                        "--write-timeout",
                        "--threads",
                        "--max-clients",
                        "--frame-timeout"}) {
        CHECK(out.find(option) != std::string::npos);
    }
    CHECK(out.find("No authentication") != std::string::npos);
    // A variant that cannot honour an option says so.
    if (!TestType::info.queues ||
        !(TestType::info.multi_threaded || TestType::info.sharded)) {
        CHECK(out.find("does not apply") != std::string::npos);
    }
}

TEMPLATE_TEST_CASE("an unknown or malformed option exits 2 naming it",
                   "[smoke]",
                   ROUTER_VARIANTS) {
    for (auto args : {std::vector<std::string>{"--frobnicate"},
                      std::vector<std::string>{"--port", "seventy"},
                      std::vector<std::string>{"--port"},
                      std::vector<std::string>{"--max-frame", "-1"}}) {
        args.insert(args.begin(), exe<TestType>());
        process p(args);
        const auto err = p.read_stderr_all();
        CHECK(p.wait() == 2);
        const auto first_line = err.substr(0, err.find('\n'));
        CHECK(first_line.find(args[1]) != std::string::npos);
        CHECK(err.find("usage:") != std::string::npos);
    }
}

TEMPLATE_TEST_CASE("a port in use exits 1 with a line naming the address",
                   "[smoke]",
                   ROUTER_VARIANTS) {
    // Hold a port by listening on it, as another server would.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    const auto port = std::to_string(ntohs(addr.sin_port));

    process p({exe<TestType>(), "--port", port});
    const auto err = p.read_stderr_all();
    CHECK(p.wait() == 1);
    CHECK(err.find("127.0.0.1:" + port) != std::string::npos);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    ::close(fd);
}
