// naive_mutex's two lessons, asserted: the article's deadlocking edit
// really deadlocks, and the shipped version does not.
#include "fixture.hpp"

using namespace testing;

namespace {
template <class Server>
void first_frame_exchange(bool deadlock, bool expect_delivery) {
    auto opts = test_options();
    opts.demo = deadlock;
    running<Server> r(opts);
    auto a = r.connect();
    auto b = r.connect();
    a.send_frame(b.id(), "the first frame");
    if (expect_delivery) {
        expect_frame(b, "the first frame");
    } else {
        // b's session holds b's lock while it waits to read; a's session
        // waits for that lock to write to b, holding the table lock. The
        // frame never arrives; 2 s stands in for "never".
        CHECK(b.silent_for(2s));
        // And everyone else is stuck behind the table lock too.
        auto c = r.connect(false);
        CHECK(c.silent_for(500ms));  // not even its id arrives
    }
}
}  // namespace

TEMPLATE_TEST_CASE("the default mode forwards the first frame",
                   "[naive_mutex][deadlock]",
                   naive_mutex::server) {
    first_frame_exchange<TestType>(false, true);
}

TEMPLATE_TEST_CASE("with --deadlock the first forwarded frame never arrives",
                   "[naive_mutex][deadlock]",
                   naive_mutex::server) {
    first_frame_exchange<TestType>(true, false);
}
