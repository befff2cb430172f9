// router_core's shards (router_core.hpp, "Shards"): frames for ids another
// shard owns, packed into parcels, handed over and, when the other
// shard's inbox is full, held back with their senders. The rest of the
// core is in router_core.cpp.
#include <algorithm>

#include "common/reactor/parcel.hpp"
#include "common/reactor/router_core.hpp"

namespace common {

// snippet: router_core-forward
// A frame for another shard's client: packed behind those already waiting
// for that shard, so frames from one sender to one destination keep their
// order whatever happens to the parcel. If the parcel is waiting for room,
// its sender is held: not read again until the parcel goes.
void router_core::forward(client_id from,
                          client_id dest,
                          std::string_view message) {
    if (shard_.remote(dest)) {
        go_remote(from, dest, message);
        return;
    }
    const unsigned shard = shard_place::of(dest, shard_.count);
    outlet& o = outlets_[shard];
    pack_frame(o.parcel, from, dest, message);
    copies_.copied(message.size());
    if (o.senders.empty() || o.senders.back() != from) {
        o.senders.push_back(from);
    }
    if (o.waiting) {
        hold(from, shard);
    } else if (!std::exchange(o.listed, true)) {
        to_forward_.push_back(shard);
    }
}
// snippet-end

// snippet: router_core-remote
// Cluster mode: a frame for a client of another router, in the order its
// sender sent it, for the driver to publish at the end of the round
// (take_remote). Nothing waits for room here: the bus takes a frame or
// drops it, so no sender is ever held for another node.
void router_core::go_remote(client_id from,
                            client_id dest,
                            std::string_view message) {
    pack_frame(remote_, from, dest, message);
    copies_.copied(message.size());
}
// snippet-end

void router_core::hold(client_id id, unsigned shard) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return;
    }
    auto& held_for = it->second.held_for;
    if (std::find(held_for.begin(), held_for.end(), shard) == held_for.end()) {
        held_for.push_back(shard);
        outlets_[shard].held.push_back(id);
    }
}

// A shard taken without being polled may be listed twice, or no longer
// have anything: each is named once, if its parcel is still listed.
void router_core::poll_forward(std::vector<unsigned>& out) {
    const auto first = out.size();
    for (unsigned shard : to_forward_) {
        if (outlets_[shard].listed &&
            std::find(out.begin() + first, out.end(), shard) == out.end()) {
            out.push_back(shard);
        }
    }
    to_forward_.clear();
}

// snippet: router_core-take
// The parcel goes: whoever was held for it may be read again, unless the
// inbox refuses it (handle_refused() holds them again, before any read).
std::vector<char> router_core::take_parcel(unsigned shard) {
    outlet& o = outlets_[shard];
    o.listed = false;
    o.flight = std::move(o.senders);
    o.senders.clear();
    if (std::exchange(o.waiting, false)) {
        for (client_id id : o.held) {
            auto it = clients_.find(id);
            if (it == clients_.end()) {
                continue;
            }
            auto& held_for = it->second.held_for;
            held_for.erase(std::find(held_for.begin(), held_for.end(), shard));
            if (held_for.empty()) {
                resumed_.push_back(id);
            }
        }
        o.held.clear();
    }
    return std::exchange(o.parcel, {});
}

void router_core::handle_refused(unsigned shard, std::vector<char>&& parcel) {
    outlet& o = outlets_[shard];
    // In front of whatever was packed since it was taken.
    parcel.insert(parcel.end(), o.parcel.begin(), o.parcel.end());
    o.parcel = std::move(parcel);
    o.waiting = true;
    // Its senders are the waiting parcel's again, should it be refused
    // once more.
    o.flight.insert(o.flight.end(), o.senders.begin(), o.senders.end());
    o.senders = std::exchange(o.flight, {});
    for (client_id id : o.senders) {
        hold(id, shard);
    }
}

void router_core::handle_room(unsigned shard) {
    if (shard >= outlets_.size()) {
        return;  // one shard: nothing is ever forwarded
    }
    outlet& o = outlets_[shard];
    if (o.waiting && !std::exchange(o.listed, true)) {
        to_forward_.push_back(shard);
    }
}
// snippet-end

void router_core::poll_resumed(std::vector<client_id>& out) {
    for (client_id id : resumed_) {
        auto it = clients_.find(id);
        if (it != clients_.end() && it->second.held_for.empty()) {
            out.push_back(id);
        }
    }
    resumed_.clear();
}

// snippet: router_core-parcel
// Frames from another shard: each goes through deliver() as a frame read
// here would, so --max-pending and the write deadline apply as they do to
// any frame, but copied (the parcel is freed once this returns). A frame
// for an id this core does not own, or that is gone, is dropped.
void router_core::handle_parcel(std::span<const char> parcel, time_point now) {
    unpack_frames(parcel,
                  [&](client_id from, client_id dest, std::string_view m) {
                      if (owns(dest)) {
                          deliver(from, nullptr, dest, m, now);
                      } else if (const auto n = drops_.count_one();
                                 drop_counter::line_due(n)) {
                          dropped_.push_back({dest, from, n});
                      }
                  });
    for (const auto& c : closures_) {
        erase(c.id);
    }
}
// snippet-end

}  // namespace common
