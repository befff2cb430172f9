// The reactors' cluster mode as executables: the bus stopped mid-run (read
// from their log), and the exit statuses docs/protocol.md gives.
#include <catch2/catch.hpp>

#include "cluster_fixture.hpp"
#include "stress/pair_traffic.hpp"
#include "stress/swarm.hpp"

using namespace testing;
using common::node_ids;

namespace {

template <class Server>
std::string exe() {
    return std::string(Server::info.name);
}

// Sends `payload` from `from` to `to` until one arrives: after the bus
// returns, a node's subscription is back only once the library has
// reconnected, on its own schedule.
void send_until_through(swarm& s,
                        std::size_t from,
                        std::size_t to,
                        const std::string& payload) {
    const auto deadline = clock::now() + patience;
    for (;;) {
        s[from].out += frame_bytes(*s[to].id, payload);
        try {
            s.pump_until(
                [&] {
                    return s[to].in.find(message(payload)) != std::string::npos;
                },
                "a frame across the bus",
                100ms);
            return;
        } catch (const timeout_error&) {
            if (clock::now() > deadline) {
                throw;
            }
        }
    }
}

}  // namespace

TEMPLATE_TEST_CASE(
    "the bus stopped mid-run: local pairs carry on, frames to other nodes "
    "are dropped and counted, and they flow again once it is back",
    "[cluster]",
    ROUTER_CLUSTER_VARIANTS) {
    nats_server bus;
    node_process n0(exe<TestType>(), bus, 0);
    node_process n1(exe<TestType>(), bus, 1);
    swarm s(n0.port());
    auto local = make_pairs(s, 4);
    const auto r0 = s.connect();
    const auto r1 = s.connect(0, n1.port());
    {
        std::vector<pair_traffic> remote{pair_traffic(s, r0, r1)};
        s.pump_until(
            [&] {
                step_all(local);
                step_all(remote);
                return least_delivered(remote) >= 100;
            },
            "traffic across the bus");
        drain_all(s, remote);
    }

    bus.kill();
    n0.wait_for_line("lost");
    const auto before = least_delivered(local);
    s.pump_until(
        [&] {
            step_all(local);
            return least_delivered(local) >= before + 200;
        },
        "local traffic while the bus is down");
    for (int i = 0; i < 20; ++i) {
        s[r0].out += frame_bytes(*s[r1].id, "lost with the bus");
    }
    s.pump_until([&] { return s[r0].out.empty(); }, "frames sent");
    const auto drop_line = n0.wait_for_line("dropped a frame");
    CHECK(drop_line.find("to client " + std::to_string(*s[r1].id)) !=
          std::string::npos);
    CHECK(drop_line.find("the bus is down") != std::string::npos);

    bus.restart();
    n0.wait_for_line("back");
    n1.wait_for_line("back");
    send_until_through(s, r0, r1, "through again");
    send_until_through(s, r1, r0, "and back");
    // Not one frame sent while the bus was down came through later.
    CHECK(s[r1].in.find("lost with the bus") == std::string::npos);
    drain_all(s, local);
    CHECK(n0.terminate() == 0);
    CHECK(n1.terminate() == 0);
}

TEMPLATE_TEST_CASE(
    "a bus that cannot be reached, a node already running, a --max-frame "
    "the bus cannot carry: one line, exit status 1",
    "[cluster]",
    ROUTER_CLUSTER_VARIANTS) {
    const auto bin = binary_path(exe<TestType>());
    auto expect_refused = [](process& p, const std::string& naming) {
        const auto err = p.read_stderr_all();
        CHECK(p.wait() == 1);
        CHECK(err.find(naming) != std::string::npos);
        CHECK(err.find('\n') == err.size() - 1);  // one line
        CHECK(p.read_stdout_all().empty());       // never listened
    };
    std::string unreachable;
    {
        nats_server gone;
        unreachable = gone.url();
    }
    // Quiet: the log's other lines (the descriptor limit) stay out.
    const std::vector<std::string> quiet{"ROUTER_LOG=quiet"};
    process no_bus({bin, "--port", "0", "--cluster", unreachable}, quiet);
    expect_refused(no_bus, unreachable);

    nats_server bus;
    node_process first(exe<TestType>(), bus, 3);
    process clash({bin, "--port", "0", "--cluster", bus.url(), "--node", "3"},
                  quiet);
    expect_refused(clash, "node 3");

    process too_large({bin,
                       "--port",
                       "0",
                       "--cluster",
                       bus.url(),
                       "--node",
                       "4",
                       "--max-frame",
                       "2000000"},
                      quiet);
    expect_refused(too_large, "--max-frame");
    CHECK(first.terminate() == 0);
}

TEMPLATE_TEST_CASE("a malformed --cluster or --node: exit status 2",
                   "[cluster]",
                   ROUTER_CLUSTER_VARIANTS) {
    const auto bin = binary_path(exe<TestType>());
    for (auto args : std::vector<std::vector<std::string>>{
             {"--cluster", "localhost:4222"},
             {"--cluster", "nats://127.0.0.1:4222", "--node", "256"},
             {"--node", "1"}}) {
        args.insert(args.begin(), bin);
        process p(args);
        const auto err = p.read_stderr_all();
        CHECK(p.wait() == 2);
        CHECK(err.find(args[args.size() - 2]) != std::string::npos);
    }
}
