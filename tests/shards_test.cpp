// The reactors with --threads N (docs/08-past-one-core.md): the frames that
// cross shards, in order, through inboxes small enough to be full most of
// the time; a slow reader on one shard; a stop while inboxes hold frames.
// Only in shard_tests (shards.cmake), whose rows are the reactors with 2
// and 3 shards. Client i belongs to shard i % N: ids are in accept order.
#include <csignal>
#include <map>
#include <memory>
#include <thread>

#include "fixture.hpp"
#include "process.hpp"

using namespace testing;

#if defined(ROUTER_SHARDED_VARIANTS)

namespace {

constexpr std::size_t MiB = 1024 * 1024;

// What one client's thread saw: frames out of order or missing, or the
// exception that ended it.
struct seen {
    std::size_t frames = 0;
    std::string error;
};

// Every client sends `rounds` numbered frames to every client of another
// shard, all at once, then reads what it is owed and checks, per sender,
// that the numbers come in order with none missing. Each client runs in
// its own thread, so the shards are busy at the same time.
template <class Server>
void all_across_shards(const common::options& opts, int rounds) {
    constexpr unsigned n = Server::shards;
    running<Server> r(opts);
    std::vector<client> clients;
    for (std::uint32_t i = 0; i < 3 * n; ++i) {
        clients.push_back(r.connect());
        REQUIRE(clients.back().id() == i);  // in accept order, from 0
    }
    const auto k = static_cast<std::uint32_t>(clients.size());
    auto other_shard = [](std::uint32_t a, std::uint32_t b) {
        return a % n != b % n;
    };
    std::vector<seen> results(k);
    std::vector<std::thread> threads;
    for (std::uint32_t i = 0; i < k; ++i) {
        threads.emplace_back([&, i] {
            try {
                std::string out;
                for (int round = 0; round < rounds; ++round) {
                    for (std::uint32_t d = 0; d < k; ++d) {
                        if (other_shard(i, d)) {
                            out += frame_bytes(d,
                                               std::to_string(i) + ":" +
                                                   std::to_string(round));
                        }
                    }
                }
                clients[i].send(out);
                std::map<std::uint32_t, int> next;
                std::size_t owed = 0;
                for (std::uint32_t s = 0; s < k; ++s) {
                    owed += other_shard(i, s) ? rounds : 0;
                }
                std::string buf;
                while (results[i].frames < owed) {
                    buf += clients[i].read_some();
                    std::size_t end;
                    while ((end = buf.find('\0')) != std::string::npos) {
                        const auto m = buf.substr(0, end);
                        buf.erase(0, end + 1);
                        const auto colon = m.find(':');
                        const auto from = std::stoul(m.substr(0, colon));
                        const int round = std::stoi(m.substr(colon + 1));
                        if (round != next[from]++) {
                            results[i].error = "out of order: " + m;
                            return;
                        }
                        ++results[i].frames;
                    }
                }
            } catch (const std::exception& e) {
                results[i].error = e.what();
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (std::uint32_t i = 0; i < k; ++i) {
        INFO("client " << i);
        CHECK(results[i].error == "");
    }
}

// Each client floods the next (client i, shard i % N, floods i + 1, on
// another shard), each from its thread, until the server goes.
std::vector<std::thread> flood_the_next(std::vector<client>& clients) {
    std::vector<std::thread> floods;
    const auto k = static_cast<std::uint32_t>(clients.size());
    for (std::uint32_t i = 0; i < k; ++i) {
        floods.emplace_back([&clients, i, k] {
            try {
                clients[i].flood((i + 1) % k, 64 * MiB, 1s, 1000);
            } catch (const std::exception&) {
                // The server went: the flood ends.
            }
        });
    }
    return floods;
}

}  // namespace

TEMPLATE_TEST_CASE(
    "every frame crosses shards and arrives, in order per "
    "sender and destination",
    "[shards]",
    ROUTER_SHARDED_VARIANTS) {
    all_across_shards<TestType>(test_options(), 300);
}

// An inbox of 64 bytes is full as soon as it holds a frame: nearly every
// parcel is refused at first, waits with its senders held, and goes once
// the other shard has taken what it had. Were a refused parcel lost, or
// frames packed after it sent first, this would fail.
TEMPLATE_TEST_CASE(
    "through full inboxes, nothing is lost and the order "
    "holds",
    "[shards]",
    ROUTER_SHARDED_VARIANTS) {
    auto opts = test_options();
    opts.inbox_capacity = 64;
    all_across_shards<TestType>(opts, 1000);
}

TEMPLATE_TEST_CASE(
    "a client of one shard that stops reading is cut off "
    "while busy pairs on every shard carry on",
    "[shards]",
    ROUTER_SHARDED_VARIANTS) {
    constexpr unsigned n = TestType::shards;
    auto opts = test_options();
    opts.max_pending = 256 * 1024;
    running<TestType> r(opts);
    auto slow = r.connect();  // id 0, shard 0: never reads
    std::vector<client> flooders, pairs;
    for (unsigned s = 0; s < n; ++s) {
        flooders.push_back(r.connect());  // ids 1..n: one on each shard
    }
    for (unsigned i = 0; i < 2 * n; ++i) {
        pairs.push_back(r.connect());  // ids n+1..3n: two on each shard
    }
    std::vector<std::thread> floods;
    std::vector<std::size_t> sent(n);
    for (unsigned s = 0; s < n; ++s) {
        floods.emplace_back([&, s] {
            try {
                sent[s] = flooders[s].flood(slow.id(), 8 * MiB, 2s);
            } catch (const std::exception&) {
                sent[s] = 0;
            }
        });
    }
    // Same-shard pairs (i, i + n) and cross-shard ones (i, i + 1), while
    // the floods go on.
    for (int round = 0; round < 20; ++round) {
        INFO("round " << round);
        for (unsigned i = 0; i < n; ++i) {
            for (unsigned j : {i + n, i + 1}) {
                const auto ping = "ping " + std::to_string(round);
                pairs[i].send_frame(pairs[j].id(), ping);
                expect_frame(pairs[j], ping);
                pairs[j].send_frame(pairs[i].id(), "pong");
                expect_frame(pairs[i], "pong");
            }
        }
    }
    for (auto& t : floods) {
        t.join();
    }
    CHECK(slow.reset_within(patience));
    // Every flooder is served too, whichever shard it is on.
    for (auto& f : flooders) {
        pairs[0].send_frame(f.id(), "you too");
        expect_frame(f, "you too");
    }
}

// The server stops while every shard's clients flood the other shards and
// nobody reads: inboxes, held parcels and queues are full of frames. It
// must stop at once and free them all (ASan and TSan builds check the
// freeing), and every client must see its connection end.
TEMPLATE_TEST_CASE(
    "a server stopped with frames in its inboxes stops "
    "cleanly",
    "[shards]",
    ROUTER_SHARDED_VARIANTS) {
    constexpr unsigned n = TestType::shards;
    auto opts = test_options();
    opts.inbox_capacity = 4096;
    auto r = std::make_unique<running<TestType>>(opts);
    std::vector<client> clients;
    for (unsigned i = 0; i < 2 * n; ++i) {
        clients.push_back(r->connect());
    }
    auto floods = flood_the_next(clients);
    // Frames are crossing: the first of them reached a client.
    REQUIRE(!clients[1].read_some().empty());
    const auto start = clock::now();
    r.reset();
    CHECK(clock::now() - start < patience);
    for (auto& t : floods) {
        t.join();
    }
    for (auto& c : clients) {
        CHECK(c.closed_within(patience));
    }
}

TEMPLATE_TEST_CASE("SIGTERM under load across shards exits 0",
                   "[shards]",
                   ROUTER_SHARDED_VARIANTS) {
    std::vector<std::string> args{binary_path(TestType::info.name)};
    for (auto arg : threads_args<TestType>()) {
        args.push_back(arg);
    }
    args.insert(args.end(), {"--port", "0"});
    process p(args);
    const auto port = port_of(p.read_stdout_line());
    REQUIRE(port != 0);
    constexpr unsigned n = TestType::shards;
    std::vector<client> clients;
    for (unsigned i = 0; i < 2 * n; ++i) {
        clients.emplace_back(port);
    }
    auto floods = flood_the_next(clients);
    REQUIRE(!clients[1].read_some().empty());
    p.signal(SIGTERM);
    CHECK(p.wait(patience) == 0);
    for (auto& t : floods) {
        t.join();
    }
}

#endif
