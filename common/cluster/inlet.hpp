// Frames from the bus into the reactors that own their destinations: the
// bus's handler (common/cluster/bus.hpp), on the NATS client's delivery
// thread. It never touches a reactor's state: it packs frames into a
// parcel per reactor (common/reactor/parcel.hpp) and hands each parcel
// to that reactor's inbox (common/reactor/inbox.hpp), the same hand-over
// as between shards, which the reactor waits on like a socket.
//
// Batching: while the library already holds more messages, frames are
// packed on; a parcel is handed over once the library holds no more, or
// once it reaches `parcel_bytes`. So a burst costs one hand-over (a lock,
// an eventfd write) per parcel, not per frame, and a lone frame waits for
// nothing.
//
// push_wait(): this thread may block (it is no reactor's), so a full inbox
// holds it up, and frames wait in the library's queue meanwhile
// (docs/protocol.md, "Cluster mode"). Hence bus::close() before the
// reactors stop taking from their inboxes.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "common/id.hpp"
#include "common/reactor/inbox.hpp"
#include "common/reactor/parcel.hpp"

namespace common::cluster {

class inlet {
  public:
    static constexpr std::size_t parcel_bytes = 64 * 1024;

    // One inbox per reactor, by shard index; `shard_of(dest, count)`
    // says which reactor owns `dest`.
    using shard_rule = unsigned (*)(client_id dest, unsigned count);
    inlet(std::vector<reactor_inbox*> inboxes, shard_rule shard_of)
        : inboxes_(std::move(inboxes)),
          parcels_(inboxes_.size()),
          shard_of_(shard_of) {}

    // snippet: cluster-inlet
    // The bus's frame_handler.
    void operator()(client_id from,
                    client_id dest,
                    std::string_view message,
                    bool more) {
        const unsigned shard =
            shard_of_(dest, static_cast<unsigned>(inboxes_.size()));
        pack_frame(parcels_[shard], from, dest, message);
        if (parcels_[shard].size() >= parcel_bytes) {
            hand_over(shard);
        }
        if (!more) {
            for (unsigned i = 0; i < parcels_.size(); ++i) {
                hand_over(i);
            }
        }
    }
    // snippet-end

  private:
    void hand_over(unsigned shard) {
        auto& parcel = parcels_[shard];
        if (!parcel.empty()) {
            const std::size_t weight = parcel.size();
            inboxes_[shard]->push_wait(mail{std::exchange(parcel, {})}, weight);
        }
    }

    std::vector<reactor_inbox*> inboxes_;
    std::vector<std::vector<char>> parcels_;
    shard_rule shard_of_;
};

}  // namespace common::cluster
