// What the minimal versions that queue (models.txt) must still get right
// without --max-pending: a client that reads late gets every frame, in
// order, however many the server had to hold for it. In
// csp_channel_per_writer's, those past a full outbox wait in spilled sends,
// whose order the article's spawned sends did not guarantee.
#include "fixture.hpp"

using namespace testing;

#if defined(ROUTER_QUEUING_VARIANTS)
TEMPLATE_TEST_CASE("a client that reads late gets every frame, in order",
                   "[minimal]",
                   ROUTER_QUEUING_VARIANTS) {
    running<TestType> r;
    auto a = r.connect();
    auto b = r.connect();
    // Some 5 MB: far more than the kernel buffers toward b and an outbox of
    // 100 frames hold. b reads nothing until a has sent it all, so the
    // server holds most of it.
    std::string wire, expected;
    for (int i = 0; i < 30000; ++i) {
        const auto payload = std::to_string(i) + std::string(150, 'x');
        wire += frame_bytes(b.id(), payload);
        expected += payload + '\0';
    }
    a.send(wire);
    const auto got = b.read_exactly(expected.size());
    CHECK(got.compare(expected) == 0);  // not the 5 MB in the report
}
#endif
