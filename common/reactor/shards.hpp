// One reactor per thread (docs/08-past-one-core.md): --threads N runs N
// reactors, each owning a shard of the clients, the ids with
// id % N == its index. Each shard is a whole reactor (the variant's
// `router`, common/reactor/reactor_io.hpp): its own router_core, sockets
// and deadline timer, touched by its thread alone, without a lock. What
// they share is here: one acceptor (shard 0's), which numbers every
// client in accept order and hands the socket to its shard; one inbox per
// shard (common/reactor/inbox.hpp), through which the others send it
// frames and new clients; the count against --max-clients; and the pool
// of ids in use, which a shard tells when one is free.
//
// With --threads 1 (the default) there is one shard, no group, no inbox:
// the reactor is the single-threaded one of chapters 4 and 5. In cluster
// mode (--cluster, docs/09-past-one-machine.md) there is a group even for
// one shard: the bus hands frames to the shards through their inboxes.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "common/admission.hpp"
#include "common/cluster/bus.hpp"
#include "common/cluster/inlet.hpp"
#include "common/counters.hpp"
#include "common/id.hpp"
#include "common/net.hpp"
#include "common/options.hpp"
#include "common/reactor/inbox.hpp"
#include "common/reactor/router_core.hpp"

namespace common {

// --threads for a reactor: the number of shards, 1 unless given.
inline unsigned shard_count(const options& opts) {
    return opts.threads == 0 ? 1 : opts.threads;
}

// Bytes of parcels an inbox holds before it refuses more. A test may set
// it lower (options::inbox_capacity).
inline constexpr std::size_t default_inbox_capacity = 1 << 20;

// What the shards of one server share: built before them, destroyed after
// them (so an inbox's sockets and parcels outlive no io_context).
class shard_group {
  public:
    shard_group(asio::io_context& first, const options& opts)
        : clients(opts.max_clients),
          ids_(opts.id_jump,
               opts.cluster.empty() ? all_ids : node_ids(opts.node)) {
        const unsigned n = shard_count(opts);
        const std::size_t capacity = opts.inbox_capacity != 0
                                         ? opts.inbox_capacity
                                         : default_inbox_capacity;
        for (unsigned i = 0; i < n; ++i) {
            if (i == 0) {
                contexts_.push_back(&first);
            } else {
                owned_.push_back(std::make_unique<asio::io_context>(1));
                contexts_.push_back(owned_.back().get());
            }
            inboxes_.push_back(
                std::make_unique<reactor_inbox>(*contexts_.back(), capacity));
        }
    }

    unsigned count() const { return static_cast<unsigned>(contexts_.size()); }
    asio::io_context& context(unsigned shard) { return *contexts_[shard]; }
    reactor_inbox& inbox(unsigned shard) { return *inboxes_[shard]; }

    // The acceptor's: the next id in accept order, skipping those in use
    // once the counter has wrapped (common/id.hpp).
    client_id take_id() {
        std::lock_guard lock(ids_mutex_);
        return ids_.take();
    }
    // Any shard's, once a client's socket is closed.
    void give_back(client_id id) {
        std::lock_guard lock(ids_mutex_);
        ids_.give_back(id);
    }

    admission clients;  // try_admit(): the acceptor's; left(): any shard's
    // Cluster mode: the bus, once shard_set::start() has joined it, before
    // any shard runs; every shard publishes on it. Null otherwise.
    cluster::bus* bus = nullptr;

  private:
    std::vector<asio::io_context*> contexts_;  // [0]: the server's
    std::vector<std::unique_ptr<asio::io_context>> owned_;
    std::vector<std::unique_ptr<reactor_inbox>> inboxes_;
    // Taken per accept and per close, never on a frame's path.
    std::mutex ids_mutex_;
    id_pool ids_;
};

// Which shard a reactor is: `index` of `group`'s, or the only one if
// `group` is null.
struct shard_ref {
    shard_group* group;
    unsigned index;
    unsigned count() const { return group ? group->count() : 1; }
};

// One shard's place among the others, for its reactor_io: what it does
// with the group. Null group: the only shard, and none of this is called
// but left(), which then does nothing.
class shard_link {
  public:
    explicit shard_link(shard_ref shard)
        : group_(shard.group), index_(shard.index) {}

    bool sharded() const { return group_ != nullptr; }
    unsigned index() const { return index_; }
    reactor_inbox& inbox() { return group_->inbox(index_); }

    // snippet: shard_link-accept
    // The acceptor numbers the clients (one counter, so ids stay in accept
    // order) and accepts each straight into the io_context of the shard
    // that owns its id, id % N: the next id is taken before the accept and
    // kept for the next client if none is accepted (or it is turned
    // away). hand_over() gives the socket to its shard through that
    // shard's inbox, never refused; the shard sends the id (`adopt`).
    tcp::socket accept(tcp::acceptor& acceptor, error_code& ec) {
        if (!next_id_) {
            next_id_ = group_->take_id();
        }
        return acceptor.accept(group_->context(owner(*next_id_)), ec);
    }

    template <class Adopt>
    void hand_over(tcp::socket socket, Adopt&& adopt) {
        const client_id id = *std::exchange(next_id_, std::nullopt);
        if (owner(id) == index_) {
            adopt(id, std::move(socket));
        } else {
            group_->inbox(owner(id)).push(arrival{id, std::move(socket)});
        }
    }
    // snippet-end

    // snippet: shard_link-mail
    // The inbox's event: everything other threads sent, taken at once. New
    // clients are adopted, parcels are delivered by the core. A refused
    // producer hears of room through its own inbox's signal (forward()),
    // so every parcel waiting for room is listed again (the core ignores
    // the shards it has nothing waiting for), for the round's flush().
    template <class Adopt>
    void take_mail(router_core& core,
                   router_core::time_point now,
                   Adopt&& adopt) {
        inbox().take_all(mail_);
        for (mail& m : mail_) {
            if (auto* parcel = std::get_if<std::vector<char>>(&m)) {
                core.handle_parcel(*parcel, now);
            } else {
                auto& a = std::get<arrival>(m);
                adopt(a.id, std::move(a.socket));
            }
        }
        mail_.clear();
        for (unsigned shard = 0; shard < group_->count(); ++shard) {
            core.handle_room(shard);
        }
    }
    // snippet-end

    // snippet: shard_link-forward
    // At the end of a round: the frames for other shards, one parcel per
    // shard, each pushed into that shard's inbox without waiting. A full
    // inbox refuses it: the core keeps it and holds the clients whose
    // frames are in it, and room will come as an event of this shard's
    // own inbox. Then whoever is no longer held is `resume`d.
    template <class Resume>
    void forward(router_core& core, Resume&& resume) {
        core.poll_forward(forward_);
        for (unsigned shard : forward_) {
            mail parcel{core.take_parcel(shard)};
            const std::size_t weight = std::get<0>(parcel).size();
            if (!group_->inbox(shard).try_push(
                    std::move(parcel), weight, &inbox().ready())) {
                core.handle_refused(shard, std::move(std::get<0>(parcel)));
            }
        }
        forward_.clear();
        core.poll_resumed(resumed_);
        for (client_id id : resumed_) {
            resume(id);
        }
        resumed_.clear();
    }
    // snippet-end

    // snippet: shard_link-publish
    // Cluster mode, at the end of a round: the frames for clients of other
    // nodes, published on the bus in the order they were routed. The bus
    // never makes a shard wait: it takes a frame or drops it.
    void publish(router_core& core) {
        if (group_ == nullptr || group_->bus == nullptr) {
            return;
        }
        core.take_remote(remote_);
        if (!remote_.empty()) {
            group_->bus->publish_parcel(remote_);
            remote_.clear();
        }
    }
    // snippet-end

    // A client's socket is closed: its id is free (after a wrap).
    void left(client_id id) {
        if (group_ != nullptr) {
            group_->give_back(id);
        }
    }

  private:
    unsigned owner(client_id id) const {
        return shard_place::of(id, group_->count());
    }

    shard_group* group_;
    unsigned index_;
    std::optional<client_id> next_id_;  // the acceptor's
    std::vector<mail> mail_;            // for take_mail()
    std::vector<unsigned> forward_;     // for forward()
    std::vector<client_id> resumed_;    // for forward()
    std::vector<char> remote_;          // for publish()
};

// The variant's `router` for common::server: N shards, shard 0 on the
// server's io_context and thread, each other on its own. stop() joins
// them; the shards go before the group, which holds their io_contexts.
template <class Shard>
class shard_set {
  public:
    shard_set(asio::io_context& ioc, const options& opts) : opts_(opts) {
        if (shard_count(opts) > 1 || !opts.cluster.empty()) {
            group_ = std::make_unique<shard_group>(ioc, opts);
        }
        for (unsigned i = 0; i < shard_count(opts); ++i) {
            auto& context = group_ ? group_->context(i) : ioc;
            shards_.push_back(std::make_unique<Shard>(
                context, opts, shard_ref{group_.get(), i}));
        }
    }
    ~shard_set() {
        leave();  // done already by common::server's stop()
        stop();
        shards_.clear();
    }

    std::uint16_t port() const { return shards_[0]->port(); }

    void start() {
        join_cluster();
        for (auto& s : shards_) {
            s->start();
        }
        for (unsigned i = 1; i < shards_.size(); ++i) {
            threads_.push_back(std::make_unique<io_threads>());
            threads_.back()->start(group_->context(i), 1);
        }
    }

    // Cluster mode: leaves the bus, while every shard still runs. Before
    // stop(): the bus's thread may be waiting for room in an inbox, which
    // only a running shard makes.
    void leave() {
        if (bus_) {
            bus_->close();
        }
    }

    // After the server's own thread has stopped: every other shard's.
    void stop() {
        threads_.clear();  // each stops its io_context and joins
        if (!stopped_) {
            stopped_ = true;
            for (auto& s : shards_) {
                totals_.delivered(s->copies().delivered());
                totals_.copied(s->copies().copied());
            }
        }
    }

    // Every shard's, once stopped.
    const copy_counter& copies() const { return totals_; }

  private:
    // snippet: shard_set-join
    // Cluster mode: the bus joined before any shard runs, its frames
    // handed to the shard that owns their destination, through its inbox
    // (common/cluster/inlet.hpp). A bus that cannot be joined throws
    // cluster::bus_error: the server does not start.
    void join_cluster() {
        if (opts_.cluster.empty()) {
            return;
        }
        std::vector<reactor_inbox*> inboxes;
        for (unsigned i = 0; i < group_->count(); ++i) {
            inboxes.push_back(&group_->inbox(i));
        }
        bus_ = std::make_unique<cluster::bus>(
            opts_, cluster::inlet(std::move(inboxes), shard_place::of));
        group_->bus = bus_.get();
    }
    // snippet-end

    options opts_;
    std::unique_ptr<shard_group> group_;  // none with one shard
    std::vector<std::unique_ptr<Shard>> shards_;
    std::vector<std::unique_ptr<io_threads>> threads_;
    std::unique_ptr<cluster::bus> bus_;  // cluster mode, once started
    copy_counter totals_;
    bool stopped_ = false;
};

}  // namespace common
