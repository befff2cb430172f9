// How another thread hands something to a reactor: an inbox, bounded, that
// the reactor waits on exactly as it waits on a socket
// (docs/08-past-one-core.md).
//
// Why an eventfd and a guarded queue, not an Asio channel: a reactor waits
// for readiness and then acts (common/reactor/reactor_io.hpp), and a wait
// must consume nothing. reactor_select races its waits and keeps only the
// winner: a channel's receive that completed in a losing branch would
// have taken an item out and lost it, the trap of racing reads
// (docs/05-reactor-select.md). An eventfd is a descriptor like a socket:
// its readiness is waited on (one more registration in the reactor's
// epoll), and the items stay in the queue until the reactor takes them.
// The bound is in bytes (a weight), not in items: a parcel may carry one
// frame or a thousand.
//
// Threads: push() and try_push() from any thread, any number of them;
// ready(), take_all() from the consumer's thread only. The mutex guards
// the queue alone, never the consumer's state, and is held for a swap or
// a push_back: the consumer takes everything queued in one go.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "common/id.hpp"
#include "common/net.hpp"

namespace common {

// A descriptor another thread makes readable: its owner's reactor waits on
// it as on a socket. notify() from any thread; the rest on the owner's.
class wake_signal {
  public:
    explicit wake_signal(asio::io_context& owner)
        : fd_(owner, open_eventfd()) {}

    // Any thread: the owner's wait, pending or next, completes. Only the
    // first notify() after a clear() writes to the descriptor.
    void notify() {
        if (!signalled_.exchange(true, std::memory_order_acq_rel)) {
            const std::uint64_t one = 1;
            [[maybe_unused]] auto n = ::write(fd_.native_handle(), &one, 8);
        }
    }

    // Owner's thread: a readiness wait that consumes nothing, as a
    // socket's wait_read; `h(error_code)`.
    template <class Handler>
    void async_wait(Handler&& h) {
        fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                       std::forward<Handler>(h));
    }

    // Owner's thread, before it looks at what the signal stands for: the
    // next wait waits for a notify() after this one. A notify() that races
    // with clear() writes again, so none is lost.
    void clear() {
        signalled_.store(false, std::memory_order_release);
        std::uint64_t count;
        [[maybe_unused]] auto n = ::read(fd_.native_handle(), &count, 8);
    }

    asio::posix::stream_descriptor& descriptor() { return fd_; }

  private:
    static int open_eventfd() {
        const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) {
            throw std::system_error(errno, std::generic_category(), "eventfd");
        }
        return fd;
    }

    asio::posix::stream_descriptor fd_;
    std::atomic<bool> signalled_{false};
};

// snippet: inbox
// A bounded queue of Items for one consumer (a reactor), fed by any
// thread. Full is a weight: what try_push() refuses waits with its
// producer, and the producer hears of room through its own wake_signal,
// one more event for its reactor; a thread that may block uses
// push_wait() instead. An empty inbox takes an item of any weight, so a
// parcel heavier than the capacity still goes, alone.
template <class Item>
class inbox {
  public:
    inbox(asio::io_context& consumer, std::size_t capacity)
        : ready_(consumer), capacity_(capacity) {}

    // Any thread. False if the inbox is full: `item` is left as it was,
    // and `room`, unless null, is notified once the consumer has taken
    // what is queued. `room` must outlive the inbox.
    bool try_push(Item&& item, std::size_t weight, wake_signal* room) {
        std::unique_lock lock(mutex_);
        if (weight_ != 0 && weight_ + weight > capacity_) {
            if (room != nullptr &&
                std::find(rooms_.begin(), rooms_.end(), room) == rooms_.end()) {
                rooms_.push_back(room);
            }
            return false;
        }
        weight_ += weight;
        add(std::move(item), lock);
        return true;
    }

    // Any thread but a reactor's: waits until the inbox has room.
    void push_wait(Item&& item, std::size_t weight) {
        std::unique_lock lock(mutex_);
        ++blocked_;
        room_.wait(lock, [&] {
            return weight_ == 0 || weight_ + weight <= capacity_;
        });
        --blocked_;
        weight_ += weight;
        add(std::move(item), lock);
    }

    // Any thread: never refused, and weighs nothing (a new client: the
    // number of those is bounded by --max-clients).
    void push(Item&& item) {
        std::unique_lock lock(mutex_);
        add(std::move(item), lock);
    }

    // Consumer's thread: what its reactor waits on.
    wake_signal& ready() { return ready_; }

    // Consumer's thread: every item queued, in order, moved into `out`
    // (which should be empty: its capacity is handed back to the queue);
    // then every producer waiting for room hears of it.
    void take_all(std::vector<Item>& out) {
        ready_.clear();
        std::vector<wake_signal*> rooms;
        bool wake_blocked = false;
        {
            std::lock_guard lock(mutex_);
            std::swap(items_, out);
            weight_ = 0;
            std::swap(rooms_, rooms);
            wake_blocked = blocked_ > 0;
        }
        for (wake_signal* r : rooms) {
            r->notify();
        }
        if (wake_blocked) {
            room_.notify_all();
        }
    }

  private:
    // Only the push that finds the queue empty signals: the consumer takes
    // everything at once, so one wake-up per batch, not per item.
    void add(Item&& item, std::unique_lock<std::mutex>& lock) {
        const bool was_empty = items_.empty();
        items_.push_back(std::move(item));
        lock.unlock();
        if (was_empty) {
            ready_.notify();
        }
    }

    wake_signal ready_;
    const std::size_t capacity_;
    std::mutex mutex_;
    std::vector<Item> items_;          // guarded by mutex_
    std::size_t weight_ = 0;           // guarded by mutex_
    std::vector<wake_signal*> rooms_;  // guarded: refused producers
    std::size_t blocked_ = 0;          // guarded: in push_wait()
    std::condition_variable room_;
};
// snippet-end

// What a reactor's inbox carries: a parcel of frames (common/reactor/
// parcel.hpp), or a new client from the acceptor, accepted on the
// receiving reactor's io_context, whose id it is to send.
struct arrival {
    client_id id;
    tcp::socket socket;
};
using mail = std::variant<std::vector<char>, arrival>;
using reactor_inbox = inbox<mail>;

}  // namespace common
