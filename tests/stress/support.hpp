// What every stress and fault test shares beyond the client: whether this
// is a sanitizer build, the figures report, and a wait for state that only
// /proc shows.
//
// The stress tests drive many connections from one thread (swarm.hpp), so
// no test can deadlock itself on a full socket buffer: whatever the server
// sends is read while the test is still sending. Every loop has a deadline.
#pragma once

#include <functional>
#include <sstream>
#include <string>

#include "client.hpp"

namespace testing {

// The figures behind an assertion (descriptors, memory, CPU), printed to
// stderr when ROUTER_STRESS_REPORT is set, for docs/reliability.md and for
// judging how much headroom a bound has: `report() << "x " << x;` prints
// one line when the statement ends.
class report {
  public:
    report() = default;
    report(const report&) = delete;
    report& operator=(const report&) = delete;
    ~report();
    template <class T>
    report& operator<<(const T& part) {
        line_ << part;
        return *this;
    }

  private:
    std::ostringstream line_;
};

// Waits until `done()` holds, re-checking every 10 ms: for state that only
// /proc shows (a count of descriptors), which no event announces.
bool eventually(const std::function<bool()>& done,
                clock::duration within = patience);

}  // namespace testing
