// --cluster and --node (docs/protocol.md, "Cluster mode"), and how ids are
// split between nodes.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/id.hpp"
#include "common/options.hpp"

namespace {

constexpr common::variant_info reactor{
    .name = "a_reactor",
    .model = "",
    .multi_threaded = false,
    .queues = true,
    .demo_flag = "",
    .demo_help = "",
    .clusters = true,
};
constexpr common::variant_info other{
    .name = "not_a_reactor",
    .model = "",
    .multi_threaded = true,
    .queues = true,
    .demo_flag = "",
    .demo_help = "",
};

common::parse_result parse(const common::variant_info& info,
                           std::vector<const char*> args) {
    args.insert(args.begin(), "x");
    return common::parse_command_line(int(args.size()), args.data(), info);
}

}  // namespace

TEST_CASE(
    "the options --cluster and --node parse, and absent, the router runs alone",
    "[cluster][options]") {
    auto alone = parse(reactor, {});
    REQUIRE(alone.opts);
    CHECK(alone.opts->cluster.empty());
    CHECK(alone.opts->node == 0);

    auto r = parse(reactor, {"--cluster", "nats://127.0.0.1:4222", "--node=7"});
    REQUIRE(r.opts);
    CHECK(r.opts->cluster == "nats://127.0.0.1:4222");
    CHECK(r.opts->node == 7);
    for (const char* url : {"nats://localhost:4222",
                            "nats://[::1]:4222",
                            "nats://nats.example.org:1"}) {
        CAPTURE(url);
        CHECK(parse(reactor, {"--cluster", url}).opts);
    }
    CHECK(parse(reactor, {"--cluster", "nats://h:1", "--node", "255"}).opts);

    const std::string usage = common::usage(reactor);
    CHECK(usage.find("--cluster URL") != usage.npos);
    CHECK(usage.find("--node K") != usage.npos);
    CHECK(common::usage(other).find("--cluster") == std::string::npos);
}

TEST_CASE("bad --cluster and --node are command-line errors naming them",
          "[cluster][options]") {
    for (auto args : std::vector<std::vector<const char*>>{
             {"--cluster"},
             {"--cluster", "127.0.0.1:4222"},
             {"--cluster", "http://127.0.0.1:4222"},
             {"--cluster", "nats://127.0.0.1"},
             {"--cluster", "nats://127.0.0.1:0"},
             {"--cluster", "nats://127.0.0.1:65536"},
             {"--cluster", "nats://1.2.3:4222"},
             {"--cluster", "nats://[::1:4222"},
             {"--cluster", "nats://h:1", "--node", "256"},
             {"--cluster", "nats://h:1", "--node", "-1"},
             {"--node", "1"}}) {
        auto r = parse(reactor, args);
        CAPTURE(args);
        CHECK_FALSE(r.opts);
        // The option at fault: the last one named.
        std::string name;
        for (const char* a : args) {
            if (std::string_view(a).starts_with("--")) {
                name = a;
            }
        }
        CHECK(r.error.find(name) != std::string::npos);
    }
    auto r = parse(other, {"--cluster", "nats://127.0.0.1:4222"});
    CHECK_FALSE(r.opts);
    CHECK(r.error.find("--cluster") != std::string::npos);
}

TEST_CASE("a node's ids: its number in the top 8 bits, in accept order",
          "[cluster][ids]") {
    using common::node_ids;
    using common::node_of;
    CHECK(node_ids(0).first == 0);
    CHECK(node_ids(1).first == 1u << 24);
    CHECK(node_ids(255).last == 0xFFFFFFFF);
    for (unsigned k : {0u, 1u, 200u, 255u}) {
        CHECK(node_of(node_ids(k).first) == k);
        CHECK(node_of(node_ids(k).last) == k);
    }

    // Node 3's counter: from its first id up, and round within its range.
    const auto range = node_ids(3);
    common::id_counter ids(range.last - 1, range);
    std::set<common::client_id> in_use;
    auto used = [&](common::client_id id) { return in_use.contains(id); };
    CHECK(ids.next(used) == range.first);
    in_use.insert(range.first);
    CHECK(ids.next(used) == range.last - 1);
    CHECK(ids.next(used) == range.last);
    CHECK(ids.next(used) == range.first + 1);  // wrapped, skips one in use

    // Alone, the counter is what it always was: every u32, from 0.
    common::id_counter alone;
    CHECK(alone.next([](common::client_id) { return false; }) == 0);
}
