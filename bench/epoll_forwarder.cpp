// epoll_forwarder: the benchmarks' limit line ("limit" in their tables),
// NOT a sixth variant.
//
// What it measures: what the reactors' work costs with nothing in the way:
// no Asio in the loop, no coroutines, no locks. The routing is the project's
// sans-I/O core, common::router_core, the very one the two reactors drive (ids,
// parsing, output queues, drops, --max-frame, --max-pending, the write
// deadline), so the line differs from them only in how it waits and does
// I/O: the difference is what Asio costs. It is a reference, not a hard
// limit: the reactors make the same recv and send calls per round, and
// only add the epoll_ctl with which Asio re-arms each wait and some
// epoll_waits (counted with perf stat), a few percent of the CPU time.
//
// Model: one thread, one epoll set. Sockets are edge-triggered for input;
// each readable socket is read once (straight into its parser in the core)
// and the core lends every complete frame to its destination, or queues a
// copy; only when the whole batch of events has been handled is each
// client with new output written, with one sendmsg(2) of all of it, from
// the senders' buffers (the core's zero-copy path: see flush()). Batching
// is the lever:
// one write per 16-byte frame would cap this loop near a few hundred
// thousand frames/s. A socket is watched for EPOLLOUT only while a short
// write left output behind, so a drained write never wakes the loop. The
// write deadline is one timerfd, set to the core's poll_timeout() when it
// changes; the clock is read once per round, after epoll_wait.
//
// It obeys docs/protocol.md like a variant: ids in accept order from 0, never
// reused; frames to unknown ids dropped and counted; --max-frame closes the
// sender; --max-pending and --write-timeout disconnect a slow consumer;
// SIGINT/SIGTERM exit 0; EMFILE pauses accepting instead of spinning.
#include <fcntl.h>
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
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/id.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/options.hpp"
#include "common/router_core.hpp"

namespace {

using common::client_id;
using common::router_core;

constexpr common::variant_info info{
    "epoll_forwarder",
    "the benchmarks' limit line: one thread, bare epoll, batched writes, "
    "the reactors' router_core (not a variant)",
    false,
    true,
    "",
    ""};

// epoll_event.data of what is not a client (a client's is its id).
constexpr std::uint64_t listener_tag = ~std::uint64_t{0};
constexpr std::uint64_t signal_tag = listener_tag - 1;
constexpr std::uint64_t timer_tag = listener_tag - 2;

void say(const std::string& line) {
    common::log("epoll_forwarder: ", line);
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

    int open();
    int run(int sigfd);

  private:
    void accept_all();
    void on_readable(client_id id);
    void flush();
    void write(client_id id, conn& c);
    void watch_out(client_id id, conn& c, bool on);
    void close_fd(client_id id, bool reset);
    void arm_timer();
    void expire();

    common::options opts_;
    router_core core_;
    int lfd_ = -1, ep_ = -1, tfd_ = -1;
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
// same ready line once it is set up; or says why not and returns 1.
int forwarder::open() {
    common::tcp::endpoint at;
    try {
        at = {common::bind_address(opts_), opts_.port};
    } catch (const std::exception& e) {
        std::cerr << "epoll_forwarder: " << e.what() << "\n";
        return 1;
    }
    lfd_ = ::socket(
        at.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = socklen_t(at.capacity());
    if (::bind(lfd_, at.data(), socklen_t(at.size())) != 0 ||
        ::listen(lfd_, SOMAXCONN) != 0 ||
        ::getsockname(lfd_, at.data(), &len) != 0) {
        std::cerr << "epoll_forwarder: cannot listen on " << opts_.bind << ":"
                  << opts_.port << ": " << std::strerror(errno) << "\n";
        return 1;
    }
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = listener_tag;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
    // steady_clock is CLOCK_MONOTONIC: the core's instants are absolute
    // times of this timer.
    tfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ev.data.u64 = timer_tag;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, tfd_, &ev);
    std::cout << common::listening_line(at.address(), at.port()) << std::endl;
    return 0;
}

int forwarder::run(int sigfd) {
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.u64 = signal_tag;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, sigfd, &sev);
    std::vector<epoll_event> events(1024);
    for (;;) {
        // While accepting is paused (EMFILE), wake every 50 ms to retry.
        // A connection left unread must not wait for an edge: poll.
        const int timeout = !unread_.empty() ? 0 : accept_paused_ ? 50 : -1;
        const int n =
            ::epoll_wait(ep_, events.data(), int(events.size()), timeout);
        if (n < 0 && errno != EINTR) {
            say(std::string("epoll_wait: ") + std::strerror(errno));
            return 1;
        }
        now_ = router_core::clock::now();  // the round's one clock read
        // Those that used up their share last round take their turn after
        // this batch's events.
        resume_.swap(unread_);
        if (accept_paused_) {
            accept_paused_ = false;
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = listener_tag;
            ::epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
        }
        for (int i = 0; i < n; ++i) {
            const std::uint64_t tag = events[i].data.u64;
            if (tag == listener_tag) {
                accept_all();
            } else if (tag == signal_tag) {
                say("signal, shutting down");
                core_.copies().report();  // for bench/compare
                return 0;  // the kernel closes every socket at exit
            } else if (tag == timer_tag) {
                std::uint64_t expirations;
                [[maybe_unused]] auto r =
                    ::read(tfd_, &expirations, sizeof expirations);
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
                say(std::string("accept: ") + std::strerror(errno) +
                    ", pausing accepts");
                ::epoll_ctl(ep_, EPOLL_CTL_DEL, lfd_, nullptr);
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
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ev.data.u64 = id;
        ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    }
}

void forwarder::on_readable(client_id id) {
    conn& c = table_[id];
    if (c.unread) {
        return;  // its turn comes after this batch
    }
    // Edge-triggered: read until a short read proves the socket drained,
    // but at most once per round: a client that floods the server must not
    // starve every other one, and its frames lent in this round stay in its
    // buffer until flush() has written them (a second read would make the
    // core copy them out first).
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

// The core's decisions, carried out: the clients it closed lose their
// sockets (reset: what they did not read is discarded); every client with
// new output, or whose socket can take more, gets one write of all of it.
// Frames lent from a sender's buffer are written from it: each sender was
// read at most once this round, and here the round ends with a write to
// each of their destinations, after which the core has copied whatever a
// socket did not take. So no buffer is read into while a frame in it is
// lent (if one were, the core would copy the frame out first).
void forwarder::flush() {
    core_.poll_close(closures_);
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
    std::array<iovec, router_core::max_gather> iov;
    std::size_t count = 0, size = 0;
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
        core_.handle_disconnect(id);  // reset or broken pipe: it is leaving
        close_fd(id, false);
        return;
    }
    const std::size_t taken = n < 0 ? 0 : std::size_t(n);
    core_.handle_written(id, taken, now_);  // copies what was not taken
    c.blocked = taken < size;
    watch_out(id, c, c.blocked);
}

void forwarder::watch_out(client_id id, conn& c, bool on) {
    if (c.watching_out == on) {
        return;
    }
    c.watching_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (on ? EPOLLOUT : 0u);
    ev.data.u64 = id;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
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
    const auto next = core_.poll_timeout();
    if (next == timer_at_) {
        return;
    }
    timer_at_ = next;
    itimerspec spec{};  // all zero: disarmed
    if (next) {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            next->time_since_epoch())
                            .count();
        spec.it_value.tv_sec = ns / 1000000000;
        spec.it_value.tv_nsec = ns % 1000000000;
    }
    ::timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = common::parse_command_line(argc, argv, info);
    if (!parsed.opts) {
        std::cerr << info.name << ": " << parsed.error << "\n"
                  << common::usage(info);
        return 2;
    }
    if (parsed.opts->help) {
        std::cout << common::usage(info);
        return 0;
    }
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    const int sigfd = ::signalfd(-1, &set, SFD_CLOEXEC);
    forwarder fwd(*parsed.opts);
    if (int rc = fwd.open(); rc != 0) {
        return rc;
    }
    return fwd.run(sigfd);
}
