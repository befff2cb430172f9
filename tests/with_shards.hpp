// A sharded variant's server with --threads N in the suite (shards.cmake,
// fixture.hpp's threads_for()).
#pragma once

namespace testing {

template <class Server, unsigned N>
struct with_shards : Server {
    static constexpr unsigned shards = N;
    using Server::Server;
};

}  // namespace testing
