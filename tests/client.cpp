#include "client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/id.hpp"

namespace testing {

namespace {
[[noreturn]] void fail_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}
int ms_until(clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}
}  // namespace

std::string frame_bytes(std::uint32_t dest, std::string_view payload) {
    auto id = common::encode_id(dest);
    std::string out(id.begin(), id.end());
    out += payload;
    out += '\0';
    return out;
}

client::client(std::uint16_t port, bool read_id) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        fail_errno("socket");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int e = errno;
        ::close(fd_);
        errno = e;
        fail_errno("connect");
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (read_id) {
        this->read_id();
    }
}

client::~client() {
    close();
}

client::client(client&& other) noexcept : fd_(other.fd_), id_(other.id_) {
    other.fd_ = -1;
}

std::uint32_t client::read_id() {
    auto bytes = read_exactly(4);
    id_ = common::decode_id(bytes.data());
    return id_;
}

void client::send(std::string_view bytes) {
    const auto deadline = clock::now() + patience;
    while (!bytes.empty()) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, ms_until(deadline)) == 0) {
            throw timeout_error("send: the server stopped reading");
        }
        auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            fail_errno("send");
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::size_t client::flood(std::uint32_t dest,
                          std::size_t total,
                          clock::duration stall,
                          std::size_t payload) {
    // A block of whole frames, sent round and round.
    const auto one = frame_bytes(dest, std::string(payload, 'f'));
    std::string block;
    while (block.size() < 256 * 1024) {
        block += one;
    }
    // Whole frames only, so that the stream stays parseable after it.
    total = (total + one.size() - 1) / one.size() * one.size();
    const auto deadline = clock::now() + patience;
    std::size_t sent = 0;
    while (sent < total && clock::now() < deadline) {
        pollfd p{fd_, POLLOUT, 0};
        const int wait = std::min(
            ms_until(deadline),
            static_cast<int>(
                std::chrono::duration_cast<std::chrono::milliseconds>(stall)
                    .count()));
        const int r = ::poll(&p, 1, wait);
        if (r == 0) {
            break;  // the server stopped taking bytes
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail_errno("poll");
        }
        const auto at = sent % block.size();
        const auto len = std::min(block.size() - at, total - sent);
        auto n =
            ::send(fd_, block.data() + at, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            fail_errno("send");
        }
        sent += static_cast<std::size_t>(n);
    }
    return sent;
}

bool client::wait_readable(clock::time_point deadline) {
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, ms_until(deadline));
        if (r > 0) {
            return true;
        }
        if (r == 0) {
            return false;
        }
        if (errno != EINTR) {
            fail_errno("poll");
        }
    }
}

std::string client::read_exactly(std::size_t n, clock::duration within) {
    const auto deadline = clock::now() + within;
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        if (!wait_readable(deadline)) {
            throw timeout_error("timed out: got " + std::to_string(got) +
                                " of " + std::to_string(n) + " bytes");
        }
        auto r = ::recv(fd_, out.data() + got, n - got, 0);
        if (r == 0) {
            throw std::runtime_error("connection closed after " +
                                     std::to_string(got) + " of " +
                                     std::to_string(n) + " bytes");
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail_errno("recv");
        }
        got += static_cast<std::size_t>(r);
    }
    return out;
}

std::string client::read_some(clock::duration within) {
    if (!wait_readable(clock::now() + within)) {
        throw timeout_error("timed out waiting for bytes");
    }
    char buf[65536];
    auto r = ::recv(fd_, buf, sizeof buf, 0);
    if (r < 0) {
        if (errno == ECONNRESET) {
            return {};
        }
        fail_errno("recv");
    }
    return std::string(buf, static_cast<std::size_t>(r));
}

bool client::silent_for(clock::duration d) {
    return !wait_readable(clock::now() + d);
}

bool client::closed_within(clock::duration within) {
    return end_within(within).has_value();
}

bool client::reset_within(clock::duration within) {
    return end_within(within) == ECONNRESET;
}

// Reads and discards until the connection ends: 0 for a FIN, ECONNRESET
// for a reset; nothing if it is still open at the deadline.
std::optional<int> client::end_within(clock::duration within) {
    const auto deadline = clock::now() + within;
    char buf[65536];
    for (;;) {
        if (!wait_readable(deadline)) {
            return std::nullopt;
        }
        auto r = ::recv(fd_, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            return r == 0 ? 0 : ECONNRESET;
        }
        if (r < 0 && errno != EINTR) {
            fail_errno("recv");
        }
    }
}

void client::shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
}

void client::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

}  // namespace testing
