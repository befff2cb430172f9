// epoll_forwarder: the benchmarks' limit line ("limit" in their tables),
// NOT a sixth variant.
//
// What it measures: what the reactors' work costs with nothing in the way:
// no Asio in the loop, no coroutines, no locks. The routing is the
// project's sans-I/O core, common::router_core, the very one the two
// reactors drive (ids, parsing, output queues, drops, --max-frame,
// --max-pending, the write deadline), so the line differs from them only
// in how it waits and does I/O: the difference is what Asio costs. It is
// a reference, not a hard limit: the reactors make the same recv and send
// calls per round, and only add the epoll_ctl with which Asio re-arms each
// wait and some epoll_waits (docs/04-reactor-handrolled.md: their cost).
//
// Model: one thread, one epoll set. Sockets are edge-triggered for input;
// each readable socket is read once (straight into its parser in the core)
// and the core lends every complete frame to its destination, or queues a
// copy; only when the whole batch of events has been handled is each
// client with new output written, with one sendmsg(2) of all of it, from
// the senders' buffers (common/reactor/router_core.hpp: why that is safe).
// Batching is the lever: a write per frame costs a system call per frame
// (docs/article-figures.md, "write per frame"). EPOLLOUT is watched only
// while a short write left output behind. The write deadline is one
// timerfd at the core's poll_timeout(); the clock is read once per round.
//
// It obeys docs/protocol.md like a variant: ids in accept order from 0,
// never reused; frames to unknown ids dropped and counted; --max-frame
// closes the sender; --max-pending and --write-timeout disconnect a slow
// consumer; SIGINT/SIGTERM exit 0; EMFILE pauses accepting, not spinning.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/id.hpp"
#include "common/io_sizes.hpp"
#include "common/log.hpp"
#include "common/main.hpp"
#include "common/net.hpp"
#include "common/options.hpp"
#include "common/reactor/router_core.hpp"

namespace {

using common::client_id;
using common::router_core;

constexpr common::variant_info info{
    .name = "epoll_forwarder",
    .model =
        "the benchmarks' limit line: one thread, bare epoll, batched "
        "writes, the reactors' router_core (not a variant)",
    .multi_threaded = false,
    .queues = true,
    .demo_flag = "",
    .demo_help = "",
};

// epoll_event.data of what is not a client (a client's is its id).
constexpr std::uint64_t listener_tag = ~std::uint64_t{0};
constexpr std::uint64_t signal_tag = listener_tag - 1;
constexpr std::uint64_t timer_tag = listener_tag - 2;

// A system call the loop needs failed: main() prints why and exits 1.
[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

// epoll_ctl ADD or MOD; false (errno set) if the kernel refused.
bool watch(int ep, int op, int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    return ::epoll_ctl(ep, op, fd, &ev) == 0;
}

// One client's socket; its input and output live in the core.
struct conn {
    int fd = -1;                // -1: closed (ids are never reused)
    bool blocked = false;       // a short write: wait for EPOLLOUT
    bool watching_out = false;  // EPOLLOUT is in its interest set
    bool unread = false;        // stopped reading at its fair share: resume
};

class forwarder {
  public:
    explicit forwarder(const common::options& o)
        : opts_(o),
          core_(o.max_frame,
                o.max_pending,
                o.write_timeout,
                router_core::small_frame) {}

    void open(int sigfd);
    int run();

  private:
    void accept_all();
    void on_readable(client_id id);
    void flush();
    void write(client_id id, conn& c);
    void watch_out(client_id id, conn& c, bool on);
    void close_fd(client_id id, bool reset);
    void abandon(client_id id, const char* what);
    void arm_timer();
    void expire();

    common::options opts_;
    router_core core_;
    int lfd_ = -1, ep_ = -1, tfd_ = -1, sigfd_ = -1;
    bool accept_paused_ = false;
    router_core::time_point now_;                      // this round's time
    std::optional<router_core::time_point> timer_at_;  // the timerfd's
    std::vector<conn> table_;                          // index: id
    std::vector<client_id> to_flush_;  // to write after this batch
    std::vector<client_id> unread_;    // still readable: no new edge
    std::vector<client_id> resume_;    // this round's turn of unread_
    std::vector<router_core::closure> closures_;
    std::vector<client_id> expired_;
};

// Listens where --bind says, as a variant does (the same resolution:
// common::bind_address, the forwarder's only use of Asio), and prints the
// same ready line once it is set up; or throws why not.
void forwarder::open(int sigfd) {
    common::tcp::endpoint at{common::bind_address(opts_), opts_.port};
    lfd_ = ::socket(
        at.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t len = socklen_t(at.capacity());
    if (lfd_ < 0 ||
        ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(lfd_, at.data(), socklen_t(at.size())) != 0 ||
        ::listen(lfd_, SOMAXCONN) != 0 ||
        ::getsockname(lfd_, at.data(), &len) != 0) {
        fail("cannot listen on " + opts_.bind + ":" +
             std::to_string(opts_.port));
    }
    // steady_clock is CLOCK_MONOTONIC: the core's instants are absolute
    // times of this timer.
    tfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (tfd_ < 0 || ep_ < 0 ||
        !watch(ep_, EPOLL_CTL_ADD, lfd_, EPOLLIN, listener_tag) ||
        !watch(ep_, EPOLL_CTL_ADD, tfd_, EPOLLIN, timer_tag) ||
        !watch(ep_, EPOLL_CTL_ADD, sigfd, EPOLLIN, signal_tag)) {
        fail("setting up epoll");
    }
    sigfd_ = sigfd;
    std::cout << common::listening_line(at.address(), at.port()) << std::endl;
}

int forwarder::run() {
    std::vector<epoll_event> events(1024);
    for (;;) {
        // While accepting is paused (EMFILE), wake every 50 ms to retry.
        // A connection left unread must not wait for an edge: poll.
        const int timeout = !unread_.empty() ? 0 : accept_paused_ ? 50 : -1;
        const int n =
            ::epoll_wait(ep_, events.data(), int(events.size()), timeout);
        if (n < 0 && errno != EINTR) {
            fail("epoll_wait");
        }
        now_ = router_core::clock::now();  // the round's one clock read
        // Those that used up their share last round take their turn after
        // this batch's events.
        resume_.swap(unread_);
        if (accept_paused_) {
            accept_paused_ = false;
            if (!watch(ep_, EPOLL_CTL_ADD, lfd_, EPOLLIN, listener_tag)) {
                fail("epoll_ctl: resuming accepts");
            }
        }
        for (int i = 0; i < n; ++i) {
            const std::uint64_t tag = events[i].data.u64;
            if (tag == listener_tag) {
                accept_all();
            } else if (tag == signal_tag) {
                signalfd_siginfo si{};
                if (::read(sigfd_, &si, sizeof si) != sizeof si) {
                    fail("reading the signalfd");
                }
                common::log_stopping(info, int(si.ssi_signo));
                core_.copies().report();  // for bench/compare
                return 0;  // the kernel closes every socket at exit
            } else if (tag == timer_tag) {
                // EAGAIN: re-armed since it fired, which is harmless.
                std::uint64_t expirations;
                if (::read(tfd_, &expirations, sizeof expirations) < 0 &&
                    errno != EAGAIN) {
                    fail("reading the timerfd");
                }
                timer_at_.reset();  // fired: arm_timer() sets it again
                expire();
            } else {
                const auto id = static_cast<client_id>(tag);
                conn& c = table_[id];
                if (c.fd < 0) {
                    continue;  // closed earlier in this batch
                }
                if ((events[i].events & EPOLLOUT) && c.blocked) {
                    c.blocked = false;
                    to_flush_.push_back(id);
                }
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                    on_readable(id);
                }
            }
        }
        for (client_id id : resume_) {
            table_[id].unread = false;
            if (table_[id].fd >= 0) {
                on_readable(id);
            }
        }
        resume_.clear();
        flush();
        arm_timer();
    }
}

void forwarder::accept_all() {
    for (;;) {
        int fd =
            ::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                common::log("epoll_forwarder: accept: ",
                            std::strerror(errno),
                            ", pausing accepts");
                if (::epoll_ctl(ep_, EPOLL_CTL_DEL, lfd_, nullptr) != 0) {
                    fail("epoll_ctl: pausing accepts");
                }
                accept_paused_ = true;
            }
            return;  // EAGAIN, or an aborted connection: nothing to do
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const client_id id = core_.handle_connect(now_);  // queues the id
        if (table_.size() <= id) {
            table_.resize(id + 1);
        }
        table_[id].fd = fd;
        if (!watch(
                ep_, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP | EPOLLET, id)) {
            abandon(id, "epoll_ctl");  // it would never be read
        }
    }
}

void forwarder::on_readable(client_id id) {
    conn& c = table_[id];
    if (c.unread) {
        return;  // its turn comes after this batch
    }
    // Edge-triggered: read until a short read proves the socket drained,
    // but at most once per round: a client that floods the server must not
    // starve every other one, and the core's zero-copy path needs it
    // (common/reactor/router_core.hpp says why).
    for (int share = 0;; ++share) {
        if (share == 1) {
            c.unread = true;
            unread_.push_back(id);
            return;
        }
        auto space = core_.read_buffer(id, common::read_size);
        if (space.empty()) {
            return;  // closed by the core: flush() closes its socket
        }
        const ssize_t n = ::recv(c.fd, space.data(), space.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        if (n <= 0) {
            // EOF or error: complete frames were forwarded, the rest goes.
            core_.handle_disconnect(id);
            close_fd(id, false);
            return;
        }
        core_.handle_input(id, std::size_t(n), now_);
        if (std::size_t(n) < space.size()) {
            return;
        }
    }
}

// The core's decisions, carried out: its drops are logged; the clients it
// closed are logged and lose their sockets (reset: what they did not read
// is discarded); every client with new output, or whose socket can take
// more, gets one write of all of it. Frames lent from a sender's buffer
// are written from it: the round ending here is what makes that safe
// (common/reactor/router_core.hpp).
void forwarder::flush() {
    common::poll_close_and_log(core_, closures_);
    for (const auto& closed : closures_) {
        close_fd(closed.id, true);
    }
    closures_.clear();
    core_.poll_transmit(to_flush_);
    for (client_id id : to_flush_) {
        conn& c = table_[id];
        if (c.fd >= 0 && !c.blocked) {
            write(id, c);
        }
    }
    to_flush_.clear();
}

// Everything waiting, in one gathered write: the frames lent from their
// senders' buffers, then the queue. send/sendmsg and recv, as Asio issues
// them, so that the line differs from the reactors only in how it waits. A
// short write means the socket's buffer is full: wait for EPOLLOUT, registered
// only for as long as that lasts.
void forwarder::write(client_id id, conn& c) {
    std::size_t taken = 0, size = 0;
    do {  // again while all is taken and more is queued (past max_gather)
        std::array<iovec, common::max_gather> iov;
        std::size_t count = 0;
        size = 0;
        for (std::string_view piece : core_.output_buffers(id)) {
            iov[count++] = {const_cast<char*>(piece.data()), piece.size()};
            size += piece.size();
        }
        if (size == 0) {
            watch_out(id, c, false);
            return;
        }
        ssize_t n;
        do {
            if (count == 1) {
                n = ::send(c.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
            } else {
                msghdr m{};
                m.msg_iov = iov.data();
                m.msg_iovlen = count;
                n = ::sendmsg(c.fd, &m, MSG_NOSIGNAL);
            }
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN) {
            core_.handle_disconnect(id);  // reset or broken pipe: leaving
            close_fd(id, false);
            return;
        }
        taken = n < 0 ? 0 : std::size_t(n);
        core_.handle_written(id, taken, now_);  // copies what was not taken
    } while (taken == size && core_.pending(id) > 0);
    c.blocked = taken < size;
    watch_out(id, c, c.blocked);
}

void forwarder::watch_out(client_id id, conn& c, bool on) {
    if (c.watching_out == on) {
        return;
    }
    c.watching_out = on;
    const std::uint32_t events =
        EPOLLIN | EPOLLRDHUP | EPOLLET | (on ? EPOLLOUT : 0u);
    if (!watch(ep_, EPOLL_CTL_MOD, c.fd, events, id)) {
        abandon(id, "epoll_ctl");  // it would wait for output forever
    }
}

// A client the loop cannot serve goes, as at EOF, with a line saying why.
void forwarder::abandon(client_id id, const char* what) {
    common::log(
        "client ", id, ": ", what, ": ", std::strerror(errno), ", closing it");
    core_.handle_disconnect(id);
    close_fd(id, false);
}

void forwarder::close_fd(client_id id, bool reset) {
    conn& c = table_[id];
    if (c.fd < 0) {
        return;
    }
    if (reset) {
        linger l{1, 0};
        ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(c.fd);  // also removes it from the epoll set
    c.fd = -1;
    if (c.unread) {  // its turn is not taken: nothing left to read
        c.unread = false;
        std::erase(unread_, id);
    }
}

// One last write to each client past its write deadline (EPOLLOUT comes
// only once a good part of a socket's buffer is free, so a slow reader may
// have made room unnoticed: any bytes taken move its deadline), then the
// core closes whoever is still past it.
void forwarder::expire() {
    core_.poll_expired(now_, expired_);
    for (client_id id : expired_) {
        if (table_[id].fd >= 0) {
            write(id, table_[id]);
        }
    }
    expired_.clear();
    core_.handle_timeout(now_);
}

// After the round: the timerfd set to the core's earliest write deadline,
// only when that instant changed (one system call, not one per round).
void forwarder::arm_timer() {
    if (!core_.update_timer(timer_at_)) {
        return;
    }
    itimerspec spec{};  // all zero: disarmed
    if (timer_at_) {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            timer_at_->time_since_epoch())
                            .count();
        spec.it_value.tv_sec = ns / 1000000000;
        spec.it_value.tv_nsec = ns % 1000000000;
    }
    if (::timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
        fail("timerfd_settime");
    }
}

}  // namespace

int main(int argc, char** argv) {
    using common::signal_waiter;
    return common::serve_main(
        argc, argv, info, [](const common::options& opts, signal_waiter& s) {
            ::signal(SIGPIPE, SIG_IGN);
            forwarder fwd(opts);
            fwd.open(s.descriptor());
            return fwd.run();
        });
}
