// The Asio pieces every variant uses the same way: the listening socket, the
// threads that run an io_context, which errors are ordinary closes, the
// back-off after a failed accept, and how the models that use coroutines
// read and bound their writes. Nothing here shares state between tasks.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "frame_parser.hpp"
#include "id.hpp"
#include "io_sizes.hpp"
#include "options.hpp"

namespace common {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// The completion token of the waits a task parks in (its socket readable,
// its outbox not empty, a lock free): the operation is awaited directly,
// returning (error_code, ...) as a tuple. With use_awaitable, Asio would
// keep a coroutine frame of its own for as long as the wait lasts: a few
// hundred bytes per idle connection (docs/results.md, "Memory per idle
// connection"), and one more allocation per lock taken.
inline constexpr auto idle_wait = asio::as_tuple(asio::deferred);

// How the coroutine models read (naive_mutex's session, the channel
// models' reader in common/channels/csp_io.cpp): the socket is
// non-blocking, so a read takes what is there and never waits, and a
// connection with nothing to read gives its read buffer back
// (frame_parser::release keeps a partial frame) and parks in
// wait_readable(), which holds no buffer. So an idle connection costs no
// read buffer, and a busy one keeps its own. Each model decides when the
// socket is empty enough to park.
struct read_result {
    std::size_t n;  // bytes read, committed to the parser
    bool drained;   // the read came up short: the socket is empty now
};

// One read into `parser` that does not wait (the socket is non-blocking):
// n is 0 and `ec` clear when the socket had nothing (would_block).
inline read_result read_now(tcp::socket& socket,
                            frame_parser& parser,
                            error_code& ec) {
    auto space = parser.prepare(read_size);
    const std::size_t n =
        socket.read_some(asio::buffer(space.data(), space.size()), ec);
    if (ec == asio::error::would_block) {
        ec = {};
    }
    parser.commit(n);
    return {n, !ec && n < space.size()};
}

// Completes when `socket` is readable, or failed: (error_code).
inline auto wait_readable(tcp::socket& socket) {
    return socket.async_wait(tcp::socket::wait_read, idle_wait);
}

// The address --bind names: itself, or a host name's first address.
// Throws with a one-line message when a name does not resolve.
asio::ip::address bind_address(const options& opts);

// The contract's ready line, without its newline: `listening on ADDR:PORT`,
// an IPv6 address in brackets (docs/protocol.md).
std::string listening_line(const asio::ip::address& address,
                           std::uint16_t port);

// Binds and listens, or throws with a one-line message that names the
// address (docs/protocol.md: a port in use exits 1 with such a line).
tcp::acceptor open_acceptor(asio::io_context& ioc, const options& opts);

// EOF, reset and cancellation end a connection normally: not worth a log
// line at the error level (the one error policy of every variant).
bool is_normal_close(const error_code& ec);

// An accept that failed (EMFILE when out of descriptors, ECONNABORTED...)
// is logged and retried after this pause, so a full descriptor table
// neither crashes the server nor spins it (docs/protocol.md).
inline constexpr std::chrono::milliseconds accept_backoff{50};
void log_accept_error(const error_code& ec);

// Accepts forever, handing each new socket (with TCP_NODELAY set: frames
// are small and must not wait for Nagle) to `on_accept`, in accept order;
// `on_accept` may be a coroutine, awaited before the next accept.
// Failed accepts are logged and retried after `accept_backoff`.
template <class OnAccept>
asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, OnAccept on_accept) {
    asio::steady_timer backoff(acceptor.get_executor());
    for (;;) {
        auto [ec, socket] =
            co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted) {
            co_return;
        }
        if (ec) {
            log_accept_error(ec);
            backoff.expires_after(accept_backoff);
            co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        using result = std::invoke_result_t<OnAccept&, tcp::socket>;
        if constexpr (std::is_void_v<result>) {
            on_accept(std::move(socket));
        } else {
            co_await on_accept(std::move(socket));
        }
    }
}

// Tokio's `into_split()` for Asio: two socket objects over one connection
// (the second a dup of the descriptor), so that one task may read while
// another writes without the two touching the same object. An Asio socket
// object is not safe to use from two threads at once.
std::pair<tcp::socket, tcp::socket> split(tcp::socket socket);

// snippet: net-write_with_deadline
// async_write under the write deadline (docs/protocol.md, point 8): the
// whole write must be taken by `dest` within `timeout` of the call. Not
// "some progress within `timeout`": a client that reads a little every so
// often would then hold the write, and in the blocking models everyone
// behind it, for as long as it liked. One whose write is not done by then
// is logged as a slow consumer, its connection is reset (see
// `reset_connection`) and asio::error::timed_out returned: the caller then
// treats it as any failed write. Zero: no deadline.
asio::awaitable<error_code> write_with_deadline(
    tcp::socket& socket,
    std::vector<asio::const_buffer> buffers,
    client_id dest,
    std::chrono::milliseconds timeout);
// snippet-end
// The same, for one buffer.
asio::awaitable<error_code> write_with_deadline(
    tcp::socket& socket,
    asio::const_buffer bytes,
    client_id dest,
    std::chrono::milliseconds timeout);

// Ends a connection at once, whatever it still holds, and closes
// `socket`. A plain shutdown would queue the end of the stream behind the
// bytes the client is not reading, and it would never see it; with
// SO_LINGER at zero, the kernel discards them and the client gets a reset
// as soon as the last descriptor of the connection closes. A shutdown of
// the receiving side wakes the task reading the other half (see `split`),
// so that it ends and closes its own; it sends nothing, where a shutdown
// of both sides would queue a FIN behind those bytes, which the client
// could read, FIN and all, before that last descriptor closed.
void reset_connection(tcp::socket& socket);

// Runs one io_context on N threads. An exception that escapes a handler is
// logged and the thread goes back to work: none escapes a thread.
class io_threads {
  public:
    void start(asio::io_context& ioc, unsigned count);
    // Stops the io_context and joins every thread. Idempotent.
    void stop();
    ~io_threads() { stop(); }

  private:
    asio::io_context* ioc_ = nullptr;
    std::vector<std::thread> threads_;
};

}  // namespace common
