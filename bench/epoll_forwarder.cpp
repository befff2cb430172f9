// epoll_forwarder: the physical-limit line of the benchmarks, NOT a sixth
// variant.
//
// What it measures: how fast one thread on this machine can forward the
// protocol at all, with nothing in the way: no Asio, no coroutines, no
// locks, no abstraction but the project's sans-I/O frame parser (so it parses
// exactly as the variants do). Every chart draws it as the line the five
// variants are measured against.
//
// Model: one thread, one epoll set, edge-triggered. Each readable socket is
// read (into its parser) and every complete frame is appended to the
// destination's output buffer; only when the whole batch of events has been
// handled is each touched output buffer written, with one write(2) per
// destination. Batching is the lever: one write per 16-byte frame would cap
// this loop near a few hundred thousand frames/s.
//
// It obeys docs/protocol.md like a variant: ids in accept order from 0, never
// reused; frames to unknown ids dropped and counted; --max-frame closes the
// sender; --max-pending disconnects a slow consumer; SIGINT/SIGTERM exit 0;
// EMFILE pauses accepting instead of spinning.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/options.hpp"

namespace {

constexpr common::variant_info info{
    "epoll_forwarder",
    "the benchmarks' limit line: one thread, bare epoll, batched writes "
    "(not a variant)",
    false,
    true,
    "",
    ""};

constexpr std::size_t read_chunk = 64 * 1024;

bool quiet() {
    const char* v = std::getenv("ROUTER_LOG");
    return v != nullptr && std::string_view(v) == "quiet";
}

void say(const std::string& line) {
    if (!quiet()) {
        std::string l = "epoll_forwarder: " + line + "\n";
        [[maybe_unused]] auto n = ::write(2, l.data(), l.size());
    }
}

struct conn {
    int fd;
    common::client_id id;
    common::frame_parser parser;
    std::string out;       // bytes queued for this client
    std::size_t sent = 0;  // prefix of `out` already written
    bool dirty = false;    // in the flush list of this batch
    bool blocked = false;  // last write hit EAGAIN: wait for EPOLLOUT
    bool closed = false;   // removed from the table, freed after the batch
    bool unread = false;   // stopped reading at its fair share: resume
    conn(int f, common::client_id i, std::size_t max_frame)
        : fd(f), id(i), parser(max_frame) {}
    std::size_t pending() const { return out.size() - sent; }
};

class forwarder {
  public:
    explicit forwarder(const common::options& o) : opts_(o) {}

    int open(std::uint16_t& port);
    int run(int sigfd);

  private:
    void accept_all();
    void on_readable(conn& c);
    void deliver(conn& from, const common::frame& f);
    void enqueue(conn& to, std::string_view bytes);
    void flush(conn& c);
    void close_conn(conn& c, const char* why);

    common::options opts_;
    int lfd_ = -1, ep_ = -1;
    bool accept_paused_ = false;
    std::vector<std::unique_ptr<conn>> table_;  // index: id; null once gone
    std::vector<conn*> dirty_;                  // to flush after this batch
    std::vector<conn*> unread_;  // still readable: no new edge will say so
    std::vector<std::unique_ptr<conn>> graveyard_;
    std::uint64_t drops_ = 0;
};

int forwarder::open(std::uint16_t& port) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(opts_.port);
    if (::inet_pton(AF_INET, opts_.bind.c_str(), &a.sin_addr) != 1) {
        std::cerr << "epoll_forwarder: bad IPv4 address " << opts_.bind << "\n";
        return 1;
    }
    if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(lfd_, SOMAXCONN) != 0) {
        std::cerr << "epoll_forwarder: " << opts_.bind << ":" << opts_.port
                  << ": " << std::strerror(errno) << "\n";
        return 1;
    }
    socklen_t len = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // null: the listening socket
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
    return 0;
}

int forwarder::run(int sigfd) {
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.ptr = &sigfd;  // marks the signalfd
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
        if (accept_paused_) {
            accept_paused_ = false;
            epoll_event ev{};
            ev.events = EPOLLIN;
            ::epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
        }
        for (int i = 0; i < n; ++i) {
            void* p = events[i].data.ptr;
            if (p == nullptr) {
                accept_all();
            } else if (p == &sigfd) {
                say("signal, shutting down");
                return 0;  // the kernel closes every socket at exit
            } else {
                conn& c = *static_cast<conn*>(p);
                if (c.closed) {
                    continue;
                }
                if (events[i].events & EPOLLOUT) {
                    c.blocked = false;
                    flush(c);
                }
                if (!c.closed &&
                    (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                    on_readable(c);
                }
            }
        }
        // Those that used up their share last time take their next turn.
        std::vector<conn*> resume;
        resume.swap(unread_);
        for (conn* c : resume) {
            c->unread = false;
            if (!c->closed) {
                on_readable(*c);
            }
        }
        // The batching: one write per destination per batch of events.
        for (std::size_t i = 0; i < dirty_.size(); ++i) {
            conn* c = dirty_[i];
            c->dirty = false;
            if (!c->closed && !c->blocked) {
                flush(*c);
            }
        }
        dirty_.clear();
        graveyard_.clear();
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
        const auto id = static_cast<common::client_id>(table_.size());
        table_.push_back(std::make_unique<conn>(fd, id, opts_.max_frame));
        conn& c = *table_.back();
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = &c;
        ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
        auto idb = common::encode_id(id);
        c.out.append(idb.data(), idb.size());
        flush(c);  // the id goes before any frame can be queued
    }
}

void forwarder::on_readable(conn& c) {
    if (c.unread) {
        return;  // its turn comes after this batch
    }
    // Edge-triggered: read until a short read proves the socket drained,
    // but at most a fair share per batch: a client that floods the server
    // must not starve every other one.
    for (int share = 0;; ++share) {
        if (share == 4) {
            c.unread = true;
            unread_.push_back(&c);
            return;
        }
        auto space = c.parser.prepare(read_chunk);
        const ssize_t n = ::read(c.fd, space.data(), space.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        c.parser.commit(n > 0 ? std::size_t(n) : 0);
        common::frame f;
        auto st = common::frame_parser::status::frame;
        while ((st = c.parser.next(f)) == common::frame_parser::status::frame) {
            deliver(c, f);
        }
        if (st == common::frame_parser::status::too_long) {
            close_conn(c, "frame longer than --max-frame");
            return;
        }
        if (n <= 0) {
            // EOF or error: complete frames were forwarded, the rest goes.
            close_conn(c, nullptr);
            return;
        }
        if (std::size_t(n) < read_chunk) {
            return;
        }
    }
}

void forwarder::deliver(conn& from, const common::frame& f) {
    if (f.dest >= table_.size() || table_[f.dest] == nullptr) {
        if (drops_++ < 10) {
            say("dropped a frame from " + std::to_string(from.id) +
                " to unknown id " + std::to_string(f.dest));
        }
        return;
    }
    conn& to = *table_[f.dest];
    // Checked before appending, so the buffer never grows past the bound.
    if (to.pending() + f.message.size() > opts_.max_pending) {
        close_conn(to, "slow consumer: more than --max-pending queued");
        return;
    }
    enqueue(to, f.message);
    if (!to.dirty) {
        to.dirty = true;
        dirty_.push_back(&to);
    }
}

// Past 64 KiB, a buffer is given room for --max-pending at once: growing it
// by doubling would copy it, holding two buffers at once, and RSS would
// pass the bound it is meant to show. Untouched room costs no memory.
void forwarder::enqueue(conn& to, std::string_view bytes) {
    const std::size_t need = to.out.size() + bytes.size();
    if (need > to.out.capacity()) {
        if (to.sent > 0) {  // drop what was written first
            to.out.erase(0, to.sent);
            to.sent = 0;
        }
        if (to.out.size() + bytes.size() >
            std::max<std::size_t>(to.out.capacity(), 64 * 1024)) {
            to.out.reserve(opts_.max_pending + 64 * 1024);
        }
    }
    to.out.append(bytes);
}

void forwarder::flush(conn& c) {
    while (c.pending() > 0) {
        const ssize_t n = ::write(c.fd, c.out.data() + c.sent, c.pending());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                c.blocked = true;  // EPOLLOUT's edge resumes it
                return;
            }
            close_conn(c, nullptr);  // reset or broken pipe: it is leaving
            return;
        }
        c.sent += std::size_t(n);
    }
    c.out.clear();
    c.sent = 0;
}

void forwarder::close_conn(conn& c, const char* why) {
    if (c.closed) {
        return;
    }
    if (why != nullptr) {
        say("client " + std::to_string(c.id) + ": " + why + ", closing it");
    }
    c.closed = true;
    ::close(c.fd);   // also removes it from the epoll set
    if (c.unread) {  // the list outlives this batch; the connection won't
        std::erase(unread_, &c);
    }
    // Freed after the batch: later events of this batch may point at it.
    graveyard_.push_back(std::move(table_[c.id]));
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
    std::uint16_t port = 0;
    if (int rc = fwd.open(port); rc != 0) {
        return rc;
    }
    std::cout << "listening on " << parsed.opts->bind << ":" << port
              << std::endl;
    return fwd.run(sigfd);
}
