// libFuzzer target for router_core's shards (router_core.hpp, "Shards"):
// two or three cores, each owning the ids with id % N == its index, and
// this harness playing their reactors and the inboxes between them, in
// any order: clients connect, send frames to any id (their own shard's,
// another's, unknown ones), write some of their output, leave; parcels
// are taken, refused (a full inbox) or queued, inboxes are delivered, and
// room is heard of.
//
// Checked: every frame a client receives was sent to it, once, and one
// sender's frames arrive in the order sent (protocol.md, point 3); a held
// client is never read (the harness skips it, as reactor_io::read() does)
// and a frame that was refused waits; once every parcel is let through
// and every inbox delivered, no client is held and every frame sent to a
// client that stayed connected has arrived. No limits are hit
// (--max-pending is large, no deadlines): this target is about the
// hand-off; router_core_fuzz.cpp checks the rules on one core.
//
// Input: FuzzedDataProvider; the last byte chooses N (2 or 3) and
// lend_from; then op bytes and their operands from the back, payloads
// from the front.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/id.hpp"
#include "common/reactor/router_core.hpp"

namespace {

using common::client_id;
using common::router_core;
using common::shard_place;

enum class op { connect, send, forward, deliver, write, leave, last = leave };

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "router_core_shards_fuzz: %s\n", what);
    std::abort();
}

class harness {
  public:
    explicit harness(FuzzedDataProvider& in)
        : in_(in), n_(in.ConsumeIntegralInRange<unsigned>(2, 3)) {
        const auto lend_from = in.ConsumeIntegralInRange<std::size_t>(0, 8);
        for (unsigned i = 0; i < n_; ++i) {
            cores_.push_back(
                std::make_unique<router_core>(64,
                                              std::size_t{1} << 30,
                                              std::chrono::milliseconds(0),
                                              lend_from,
                                              std::chrono::milliseconds(0),
                                              0,
                                              shard_place{n_, i}));
        }
        inboxes_.resize(n_);
    }

    void run() {
        while (in_.remaining_bytes() > 0) {
            step(static_cast<op>(in_.ConsumeIntegralInRange(0, int(op::last))));
        }
        // Room everywhere: every parcel goes, every inbox is delivered.
        for (int round = 0; round < 8; ++round) {
            for (unsigned s = 0; s < n_; ++s) {
                forward(s, false);
            }
            for (unsigned d = 0; d < n_; ++d) {
                deliver(d);
            }
        }
        for (client_id id = 0; id < next_; ++id) {
            if (core(id).held(id)) {
                fail("a client is still held once every parcel went");
            }
            drain(id);
            for (const auto& [from, sent] : sent_[id]) {
                if (connected_.contains(id) && got_[id][from] != sent) {
                    fail("a frame to a connected client never arrived");
                }
            }
        }
    }

  private:
    router_core& core(client_id id) { return *cores_[id % n_]; }

    void step(op o) {
        switch (o) {
            case op::connect:
                if (next_ < 24) {
                    core(next_).handle_connect(next_, now_);
                    connected_.insert(next_);
                    drain(next_);  // its id
                    ++next_;
                }
                return;
            case op::send:
                return send();
            case op::forward:
                return forward(pick_shard(), in_.ConsumeBool());
            case op::deliver:
                return deliver(pick_shard());
            case op::write:
                return drain(in_.ConsumeIntegralInRange<client_id>(0, next_));
            case op::leave: {
                const auto id = in_.ConsumeIntegralInRange<client_id>(0, next_);
                core(id).handle_disconnect(id);
                connected_.erase(id);
                return;
            }
        }
    }

    unsigned pick_shard() { return in_.ConsumeIntegralInRange(0u, n_ - 1); }

    // A frame "<from>:<k>" from a connected client that is not held, to
    // an id given out (connected or gone) or to one never given out.
    void send() {
        const auto from = in_.ConsumeIntegralInRange<client_id>(0, next_);
        auto dest = in_.ConsumeIntegralInRange<client_id>(0, next_);
        if (dest == next_) {
            dest = never_given;
        }
        if (!connected_.contains(from) || core(from).held(from)) {
            return;
        }
        const auto payload =
            std::to_string(from) + ":" + std::to_string(sent_[dest][from]++) +
            std::string(in_.ConsumeIntegralInRange(0, 40), 'p');
        const auto wire = common::encode_id(dest);
        std::string frame(wire.begin(), wire.end());
        frame += payload;
        frame += '\0';
        core(from).handle_input(from, std::string_view(frame), now_);
        if (!connected_.contains(dest)) {
            --sent_[dest][from];  // dropped: not counted as owed
        }
    }

    // Shard s hands its parcels over; with `full`, every inbox refuses.
    void forward(unsigned s, bool full) {
        std::vector<unsigned> shards;
        cores_[s]->poll_forward(shards);
        for (unsigned d : shards) {
            auto parcel = cores_[s]->take_parcel(d);
            if (full) {
                cores_[s]->handle_refused(d, std::move(parcel));
                refused_.insert(s);
            } else {
                inboxes_[d].push_back(std::move(parcel));
            }
        }
        std::vector<client_id> resumed;
        cores_[s]->poll_resumed(resumed);
        for (client_id id : resumed) {
            if (cores_[s]->held(id)) {
                fail("a resumed client is held");
            }
        }
    }

    // Shard d takes its inbox; the refused producers hear of room.
    void deliver(unsigned d) {
        for (auto& parcel : inboxes_[d]) {
            cores_[d]->handle_parcel(parcel, now_);
        }
        inboxes_[d].clear();
        for (unsigned s : refused_) {
            for (unsigned t = 0; t < n_; ++t) {
                cores_[s]->handle_room(t);
            }
        }
        refused_.clear();
    }

    // The client's socket takes everything: frames checked in order.
    void drain(client_id id) {
        auto& c = core(id);
        const auto out = c.output(id);
        c.handle_written(id, out.size(), now_);
        buffer_[id] += out;
        auto& buf = buffer_[id];
        if (!ids_read_.contains(id)) {
            if (buf.size() < 4) {
                return;
            }
            buf.erase(0, 4);
            ids_read_.insert(id);
        }
        std::size_t end;
        while ((end = buf.find('\0')) != std::string::npos) {
            const auto m = buf.substr(0, end);
            buf.erase(0, end + 1);
            const auto colon = m.find(':');
            const client_id from = std::stoul(m.substr(0, colon));
            const auto k = std::stoul(m.substr(colon + 1));
            if (k != got_[id][from]++) {
                fail("frames from one sender out of order, or twice");
            }
        }
    }

    FuzzedDataProvider& in_;
    const unsigned n_;
    std::vector<std::unique_ptr<router_core>> cores_;
    std::vector<std::vector<std::vector<char>>> inboxes_;
    std::set<unsigned> refused_;
    client_id next_ = 0;
    std::set<client_id> connected_;
    std::map<client_id, std::map<client_id, unsigned long>> sent_, got_;
    std::map<client_id, std::string> buffer_;
    std::set<client_id> ids_read_;
    const router_core::time_point now_{};
    static constexpr client_id never_given = 1000;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
    FuzzedDataProvider in(data, size);
    harness(in).run();
    return 0;
}
