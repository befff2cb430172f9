#include "swarm.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "common/id.hpp"

namespace testing {

namespace {

[[noreturn]] void fail_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

swarm::swarm(std::uint16_t port) : port_(port) {}

swarm::~swarm() {
    for (std::size_t i = 0; i < peers_.size(); ++i) {
        close(i);
    }
}

std::size_t swarm::connect(int rcvbuf, std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail_errno("socket");
    }
    if (rcvbuf > 0) {
        // Before connect, so the window is small from the start.
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port != 0 ? port : port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        fail_errno("connect");
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    auto p = std::make_unique<peer>();
    p->fd = fd;
    peers_.push_back(std::move(p));
    return peers_.size() - 1;
}

void swarm::close(std::size_t i, bool reset) {
    peer& p = *peers_[i];
    if (p.fd >= 0) {
        if (reset) {
            linger l{1, 0};
            ::setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        ::close(p.fd);
        p.fd = -1;
    }
    p.closed = true;
    p.out.clear();
}

void swarm::on_readable(peer& p) {
    char buf[65536];
    // A bounded number of reads per round, so one busy peer cannot starve
    // the others.
    for (int i = 0; i < 16 && !p.closed; ++i) {
        const auto r = ::recv(p.fd, buf, sizeof buf, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (r <= 0) {
            // EOF, or a reset: either way the server is done with it.
            ::close(p.fd);
            p.fd = -1;
            p.closed = true;
            p.out.clear();
            return;
        }
        std::string_view got(buf, static_cast<std::size_t>(r));
        p.received += got.size();
        if (!p.id) {
            const auto need = 4 - p.in.size();
            p.in.append(got.substr(0, need));
            got.remove_prefix(std::min(need, got.size()));
            if (p.in.size() == 4) {
                p.id = common::decode_id(p.in.data());
                p.in.clear();
            }
        }
        if (p.keep_input) {
            p.in.append(got);
        }
    }
}

void swarm::on_writable(peer& p) {
    while (!p.out.empty() && !p.closed) {
        const auto n = ::send(p.fd, p.out.data(), p.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            // EPIPE or a reset: the server closed this connection.
            ::close(p.fd);
            p.fd = -1;
            p.closed = true;
            p.out.clear();
            return;
        }
        p.sent += static_cast<std::size_t>(n);
        p.out.erase(0, static_cast<std::size_t>(n));
    }
}

void swarm::round(int timeout_ms) {
    std::vector<pollfd> fds;
    std::vector<peer*> owners;
    for (auto& p : peers_) {
        // A paused peer is not watched for input at all: its hang-up
        // would otherwise wake every round.
        if (!p->closed && !(p->paused && p->out.empty())) {
            const short events =
                (p->paused ? 0 : POLLIN) | (p->out.empty() ? 0 : POLLOUT);
            fds.push_back({p->fd, events, 0});
            owners.push_back(p.get());
        }
    }
    if (fds.empty()) {
        return;
    }
    const int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
        fail_errno("poll");
    }
    for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
        if (fds[i].revents & POLLOUT) {
            on_writable(*owners[i]);
        }
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
            !owners[i]->paused) {
            on_readable(*owners[i]);
        }
    }
}

void swarm::pump_until(const std::function<bool()>& done,
                       const std::string& what,
                       clock::duration within) {
    const auto deadline = clock::now() + within;
    while (!done()) {
        if (clock::now() > deadline) {
            throw timeout_error("timed out: " + what);
        }
        round(10);
    }
}

void swarm::pump_for(clock::duration d) {
    const auto end = clock::now() + d;
    while (clock::now() < end) {
        round(10);
    }
}

std::optional<std::string> pop_message(std::string& in) {
    const auto zero = in.find('\0');
    if (zero == std::string::npos) {
        return std::nullopt;
    }
    auto msg = in.substr(0, zero + 1);
    in.erase(0, zero + 1);
    return msg;
}

}  // namespace testing
