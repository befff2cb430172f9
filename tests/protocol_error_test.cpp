// docs/protocol.md point 6: an over-long frame closes its sender, and only it.
#include "fixture.hpp"

using namespace testing;

TEMPLATE_TEST_CASE("an over-long frame closes the offender only",
                   "[protocol-error]",
                   ROUTER_VARIANTS) {
    auto opts = test_options();
    opts.max_frame = 1000;
    running<TestType> r(opts);
    auto offender = r.connect();
    auto a = r.connect();
    auto b = r.connect();
    // Exactly max_frame bytes of payload is legal.
    a.send_frame(b.id(), std::string(1000, 'x'));
    expect_frame(b, std::string(1000, 'x'));
    // One more byte without its 0 is not; the offender sends no 0 at all.
    offender.send(frame_bytes(b.id(), std::string(5000, 'y')).substr(0, 4005));
    CHECK(offender.closed_within(patience));
    a.send_frame(b.id(), "carry on");
    expect_frame(b, "carry on");
    CHECK(b.silent_for(100ms));  // nothing of the offender's frame
}

TEMPLATE_TEST_CASE("frames before an over-long one are still delivered",
                   "[protocol-error]",
                   ROUTER_VARIANTS) {
    auto opts = test_options();
    opts.max_frame = 100;
    running<TestType> r(opts);
    auto offender = r.connect();
    auto b = r.connect();
    offender.send(frame_bytes(b.id(), "good") + std::string(4, '\1') +
                  std::string(200, 'z'));
    expect_frame(b, "good");
    CHECK(offender.closed_within(patience));
}
