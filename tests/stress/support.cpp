#include "support.hpp"

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace testing {

report::~report() {
    static const bool on = std::getenv("ROUTER_STRESS_REPORT") != nullptr;
    if (on) {
        std::fprintf(stderr, "[stress] %s\n", line_.str().c_str());
    }
}

bool eventually(const std::function<bool()>& done, clock::duration within) {
    const auto deadline = clock::now() + within;
    while (!done()) {
        if (clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

}  // namespace testing
