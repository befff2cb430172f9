// Routers joined through a nats-server of their own: in process (the
// suite's `running`, so the sanitizers see the bus's threads too) or as
// executables (for their log and their exit status).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_variants.hpp"
#include "common/id.hpp"
#include "fixture.hpp"
#include "nats_server.hpp"
#include "process.hpp"

namespace testing {

// Node k runs 1, 2 or 3 shards (--threads), by turns: a frame crosses
// between routers of different shapes.
inline common::options node_options(const nats_server& bus, unsigned node) {
    auto o = test_options();
    o.cluster = bus.url();
    o.node = node;
    o.threads = 1 + node % 3;
    return o;
}

// `count` routers, nodes 0 to count - 1, in this process.
template <class Server>
struct cluster {
    nats_server bus;
    std::vector<std::unique_ptr<running<Server>>> nodes;

    explicit cluster(unsigned count) {
        for (unsigned k = 0; k < count; ++k) {
            join(k);
        }
    }
    void join(unsigned k) {
        if (nodes.size() <= k) {
            nodes.resize(k + 1);
        }
        nodes[k] = std::make_unique<running<Server>>(node_options(bus, k));
    }
    void leave(unsigned k) { nodes[k].reset(); }
    std::uint16_t port(unsigned k) const { return nodes[k]->port(); }
    client connect(unsigned k) { return nodes[k]->connect(); }
};

// A router executable of the cluster, logging (not quiet), with its port.
class node_process {
  public:
    node_process(const std::string& variant,
                 const nats_server& bus,
                 unsigned node,
                 std::vector<std::string> extra = {});
    std::uint16_t port() const { return port_; }
    process& proc() { return proc_; }
    // Reads its log until a line holds `needle`, or timeout_error.
    std::string wait_for_line(std::string_view needle);
    // SIGTERM: the exit status, or nullopt if it did not exit in 2 s.
    std::optional<int> terminate();

  private:
    process proc_;
    std::uint16_t port_ = 0;
};

}  // namespace testing
