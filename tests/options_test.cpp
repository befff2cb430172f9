// Unit tests of the command line shared by every variant.
#include "common/options.hpp"

#include <catch2/catch.hpp>

#include "common/net.hpp"

namespace {
constexpr common::variant_info info{
    .name = "demo",
    .model = "a test",
    .multi_threaded = true,
    .queues = true,
    .demo_flag = "--demo",
    .demo_help = "the demonstration",
};

common::parse_result parse(std::vector<const char*> args) {
    args.insert(args.begin(), "demo");
    return common::parse_command_line(int(args.size()), args.data(), info);
}
}  // namespace

TEST_CASE("defaults follow the contract", "[options]") {
    auto r = parse({});
    REQUIRE(r.opts);
    CHECK(r.opts->bind == "127.0.0.1");
    CHECK(r.opts->port == 8080);
    CHECK(r.opts->max_frame == 1048576);
    CHECK(r.opts->max_pending == 8388608);
    CHECK(r.opts->write_timeout == std::chrono::milliseconds(10000));
    CHECK(r.opts->thread_count() >= 1);
}

TEST_CASE("every option parses, both as --opt v and --opt=v", "[options]") {
    auto r = parse({"--bind",
                    "::1",
                    "--port=0",
                    "--max-frame",
                    "10",
                    "--max-pending=20",
                    "--write-timeout",
                    "0",
                    "--threads",
                    "3",
                    "--demo"});
    REQUIRE(r.opts);
    CHECK(r.opts->bind == "::1");
    CHECK(r.opts->port == 0);
    CHECK(r.opts->max_frame == 10);
    CHECK(r.opts->max_pending == 20);
    CHECK(r.opts->write_timeout == std::chrono::milliseconds(0));
    CHECK(r.opts->thread_count() == 3);
    CHECK(r.opts->demo);
}

TEST_CASE("bad options are refused with a message naming them", "[options]") {
    for (auto args : std::vector<std::vector<const char*>>{
             {"--nope"},
             {"--bind", "1.2.3"},
             {"--bind", "no_such host"},
             {"--bind", "-bad.example"},
             {"--write-timeout", "-1"},
             {"--write-timeout", "1s"},
             {"--port", "65536"},
             {"--port", "-1"},
             {"--port", "12ab"},
             {"--threads", "0"},
             {"--max-frame", "0"},
             // 2^64 - 1: max_frame + 1
             // would wrap to 0
             {"--max-frame", "18446744073709551615"},
             {"--max-frame", "1073741825"},
             {"--max-pending", "18446744073709551615"},
             {"--max-pending", "68719476737"},
             {"--max-pending"},
             {"--demo=1"},
             {"--help=yes"}}) {
        auto r = parse(args);
        CHECK_FALSE(r.opts);
        CHECK(r.error.starts_with(
            std::string(args[0]).substr(0, std::string(args[0]).find('='))));
    }
}

TEST_CASE("max-frame and max-pending options take values up to their limits",
          "[options]") {
    auto r = parse({"--max-frame",
                    std::to_string(common::max_frame_limit).c_str(),
                    "--max-pending",
                    std::to_string(common::max_pending_limit).c_str()});
    REQUIRE(r.opts);
    CHECK(r.opts->max_frame == common::max_frame_limit);
    CHECK(r.opts->max_pending == common::max_pending_limit);
}

TEST_CASE("a host name for --bind is resolved when the server binds",
          "[options]") {
    for (const char* name : {"localhost", "router-1.example.org", "h"}) {
        auto r = parse({"--bind", name});
        REQUIRE(r.opts);
        CHECK(r.opts->bind == name);
    }
    auto r = parse({"--bind", "localhost"});
    REQUIRE(r.opts);
    CHECK(common::bind_address(*r.opts).is_loopback());
}

TEST_CASE("the limits: --max-clients and --frame-timeout", "[options]") {
    auto d = parse({});
    REQUIRE(d.opts);
    CHECK(d.opts->max_clients == 10000);
    CHECK(d.opts->frame_timeout == std::chrono::milliseconds(30000));
    auto r = parse({"--max-clients", "1", "--frame-timeout=0"});
    REQUIRE(r.opts);
    CHECK(r.opts->max_clients == 1);
    CHECK(r.opts->frame_timeout == std::chrono::milliseconds(0));
    r = parse({"--max-clients=1048576", "--frame-timeout", "86400000"});
    REQUIRE(r.opts);
    CHECK(r.opts->max_clients == common::max_clients_limit);
    CHECK(r.opts->frame_timeout == std::chrono::milliseconds(86'400'000));
    for (auto args :
         std::vector<std::vector<const char*>>{{"--max-clients", "0"},
                                               {"--max-clients", "1048577"},
                                               {"--max-clients", "-1"},
                                               {"--max-clients"},
                                               {"--frame-timeout", "86400001"},
                                               {"--frame-timeout", "-1"},
                                               {"--frame-timeout", "30s"}}) {
        auto bad = parse(args);
        CHECK_FALSE(bad.opts);
        CHECK(bad.error.starts_with(args[0]));
        CHECK(bad.error.find('\n') == std::string::npos);
    }
}
