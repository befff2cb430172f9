// router_client, the command-line client of the README's "Try it by hand":
// two of its processes hold a conversation through each variant (running
// in-process), and its errors are the ones a reader would want to see.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <tuple>

#include "client/escape.hpp"
#include "fixture.hpp"
#include "process.hpp"

using namespace testing;

namespace {

// The client's own behaviour does not depend on the model: the tests of
// its errors run against the first variant only.
using any_variant = std::tuple_element_t<0, std::tuple<ROUTER_VARIANTS>>;

// A router_client connected to `port`, its stdin a pipe, its id read.
struct client_process {
    process p;
    std::uint32_t id = 0;

    explicit client_process(std::uint16_t port,
                            std::vector<std::string> extra = {})
        : p(args(port, std::move(extra)), {}, true) {
        const auto line = p.read_stdout_line();
        REQUIRE(line.starts_with("id "));
        id = static_cast<std::uint32_t>(std::stoul(line.substr(3)));
    }

    static std::vector<std::string> args(std::uint16_t port,
                                         std::vector<std::string> extra) {
        std::vector<std::string> a = {binary_path("router_client"),
                                      "--port",
                                      std::to_string(port),
                                      "--timeout",
                                      "30"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

    void say(std::uint32_t dest, const std::string& text) {
        p.write_stdin(std::to_string(dest) + " " + text + "\n");
    }

    // The text of the next received frame, after checking its time stamp.
    std::string heard() {
        static const std::regex stamped(R"(\[\d\d:\d\d:\d\d\.\d{3}\] (.*))");
        const auto line = p.read_stdout_line();
        std::smatch m;
        INFO("stdout line: " << line);
        REQUIRE(std::regex_match(line, m, stamped));
        return m[1];
    }
};

// A port on which nothing listens: bound, so nobody else takes it, but
// never put in the listening state, so a connect is refused.
struct refusing_port {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    std::uint16_t port = 0;

    refusing_port() {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~refusing_port() { ::close(fd); }
};

}  // namespace

TEMPLATE_TEST_CASE("two router_clients hold a conversation",
                   "[router_client]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    client_process a(r.port()), b(r.port());
    REQUIRE(a.id != b.id);

    a.say(b.id, "hello, number " + std::to_string(b.id));
    CHECK(b.heard() == "hello, number " + std::to_string(b.id));
    b.say(a.id, "hello back,  with  spaces kept ");
    CHECK(a.heard() == "hello back,  with  spaces kept ");
    // An empty text is an empty frame; a control byte is shown escaped.
    a.say(b.id, "");
    CHECK(b.heard() == "");
    b.say(a.id, "tab\there");
    CHECK(a.heard() == "tab\\x09here");
    a.say(a.id, "to myself");
    CHECK(a.heard() == "to myself");

    // The end of the input ends each client, cleanly.
    a.p.close_stdin();
    b.p.close_stdin();
    CHECK(a.p.wait() == 0);
    CHECK(b.p.wait() == 0);
}

TEMPLATE_TEST_CASE("a scripted router_client: --send-file, then --expect",
                   "[router_client]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    client_process listener(r.port(), {"--expect", "3"});
    listener.p.close_stdin();  // no input: it only listens

    char path[] = "/tmp/router_client_test_XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    {
        std::ofstream lines(path);
        const auto to = std::to_string(listener.id);
        // The last line has no newline: it is sent all the same.
        lines << to << " one\r\n" << to << " two\n" << to << " three";
    }
    // The sender exits at the end of its file, right after sending: every
    // frame it sent must still be forwarded (docs/protocol.md, point 7).
    process sender({binary_path("router_client"),
                    "--port",
                    std::to_string(r.port()),
                    "--send-file",
                    path,
                    "--timeout",
                    "30"},
                   {},
                   true);
    CHECK(sender.read_stdout_line().starts_with("id "));
    CHECK(sender.wait() == 0);
    ::unlink(path);

    CHECK(listener.heard() == "one");
    CHECK(listener.heard() == "two");
    CHECK(listener.heard() == "three");
    CHECK(listener.p.wait() == 0);
}

TEST_CASE("router_client reports a bad line, skips it and sends the rest",
          "[router_client]") {
    running<any_variant> r;
    client_process a(r.port()), b(r.port());
    a.p.write_stdin("seven hello\n");     // not a number
    a.p.write_stdin("4294967296 big\n");  // above 2^32 - 1
    a.p.write_stdin("\n");                // empty: ignored, no error
    a.say(b.id, "still fine");
    CHECK(b.heard() == "still fine");
    a.p.close_stdin();
    b.p.close_stdin();
    CHECK(a.p.wait() == 3);  // 3: some line was not sent
    const auto err = a.p.read_stderr_all();
    CHECK(err.find("line 1: expected `<dest id> <text>`") != err.npos);
    CHECK(err.find("\"seven hello\"") != err.npos);
    CHECK(err.find("line 2:") != err.npos);
    CHECK(err.find("line 3:") == err.npos);
    CHECK(b.p.wait() == 0);
}

TEST_CASE("router_client refuses a line past --max-frame or holding a 0",
          "[router_client]") {
    auto opts = test_options();
    opts.max_frame = 16;
    running<any_variant> r(opts);
    client_process a(r.port(), {"--max-frame", "16"}), b(r.port());
    a.say(b.id, std::string(17, 'x'));        // one byte too long
    a.say(b.id, std::string("a\0b\x1b", 4));  // a 0 byte, then ESC
    a.say(b.id, std::string(16, 'y'));        // just fits
    CHECK(b.heard() == std::string(16, 'y'));
    a.p.close_stdin();
    b.p.close_stdin();
    CHECK(a.p.wait() == 3);
    const auto err = a.p.read_stderr_all();
    INFO(err);
    CHECK(err.find("line 1: the text is longer than --max-frame") != err.npos);
    CHECK(err.find("line 2: the text holds a 0 byte") != err.npos);
    CHECK(err.find("a\\x00b\\x1b") != err.npos);          // escaped, and
    CHECK(err.find(std::string("a\0b", 3)) == err.npos);  // not raw
    CHECK(b.p.wait() == 0);
}

TEST_CASE("router_client escapes C0 and C1 controls, keeps UTF-8 text",
          "[router_client]") {
    using ::client::escaped;
    CHECK(escaped("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
    CHECK(escaped("\x1b[2J") == "\\x1b[2J");  // C0: ESC
    CHECK(escaped("\x9b"
                  "2J") == "\\x9b2J");  // C1, raw: CSI
    CHECK(escaped("\xc2\x9b"
                  "2J") == "\\xc2\\x9b2J");      // C1 as UTF-8
    CHECK(escaped("\xc2\xa0") == "\xc2\xa0");    // U+00A0 prints
    CHECK(escaped("\xe2\x82") == "\\xe2\\x82");  // cut short
    CHECK(escaped("\x7f\\") == "\\x7f\\x5c");
}

TEST_CASE("router_client says so when the connection is refused",
          "[router_client]") {
    refusing_port nobody;
    const auto port = std::to_string(nobody.port);
    process p({binary_path("router_client"), "--port", port});
    const auto err = p.read_stderr_all();
    CHECK(p.wait() == 1);
    CHECK(err == "router_client: cannot connect to 127.0.0.1:" + port +
                     ": Connection refused\n");
}

TEST_CASE("router_client exits 0 on Ctrl-C and 1 when the router goes",
          "[router_client]") {
    running<any_variant> r;
    client_process interrupted(r.port()), abandoned(r.port());
    interrupted.p.signal(SIGINT);
    CHECK(interrupted.p.wait(2s) == 0);

    r.server.stop();
    CHECK(abandoned.p.wait() == 1);
    CHECK(abandoned.p.read_stderr_all().find(
              "the router closed the connection") != std::string::npos);
}

TEST_CASE("router_client: --timeout, and a bad command line",
          "[router_client]") {
    running<any_variant> r;
    client_process waiting(r.port(), {"--expect", "1", "--timeout", "1"});
    waiting.p.close_stdin();
    CHECK(waiting.p.wait() == 1);
    CHECK(waiting.p.read_stderr_all() ==
          "router_client: timed out with 0 of 1 frame(s) received\n");

    process bad({binary_path("router_client"), "--port", "http"});
    const auto err = bad.read_stderr_all();
    CHECK(bad.wait() == 2);
    CHECK(err.starts_with("router_client: --port http: invalid\nusage:"));
}
