// Clients that vanish (reset) while frames to them are still on their way:
// the server must drop those frames and keep serving everyone else.
#include <sys/socket.h>

#include "fixture.hpp"

using namespace testing;

TEMPLATE_TEST_CASE("clients that reset mid-exchange leave the server serving",
                   "[disconnect]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    for (int round = 0; round < 3; ++round) {
        std::vector<client> clients;
        for (int i = 0; i < 16; ++i) {
            clients.push_back(r.connect());
        }
        // Each sends to its neighbour, and nobody reads: the frames are
        // in flight, in the server or in the kernel, when everyone resets.
        for (std::size_t i = 0; i < clients.size(); ++i) {
            const auto dest = clients[(i + 1) % clients.size()].id();
            std::string wire;
            for (int k = 0; k < 500; ++k) {
                wire +=
                    frame_bytes(dest, "vanishing frame " + std::to_string(k));
            }
            clients[i].send(wire);
        }
        for (auto& c : clients) {
            linger l{1, 0};  // close with RST
            ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
            c.close();
        }
    }
    auto a = r.connect();
    auto b = r.connect();
    a.send_frame(b.id(), "still serving");
    expect_frame(b, "still serving");
}
