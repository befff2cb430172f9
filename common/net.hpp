// The Asio pieces every variant uses the same way: the listening socket, the
// threads that run an io_context, which errors are ordinary closes, the
// back-off after a failed accept, and how the models that use coroutines
// read and bound their writes. Nothing here shares state between tasks.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <limits>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "admission.hpp"
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

// A reader ended with `ec`: past the frame deadline (timed_out, from
// frame_deadline), the client is logged and its connection reset (see
// `reset_connection`), as every cut client is; an error that is not a
// normal close is logged.
void reader_ended(tcp::socket& socket,
                  client_id id,
                  const error_code& ec,
                  std::chrono::milliseconds frame_timeout);

// An accept that failed (EMFILE when out of descriptors, ECONNABORTED...)
// is logged (admission::not_now, throttled) and retried after this pause,
// so a full descriptor table neither crashes the server nor spins it, and
// the clients not yet taken wait in the listen backlog (docs/protocol.md).
inline constexpr std::chrono::milliseconds accept_backoff{50};

// The second descriptor of a split socket (see accept_loop): a dup of
// `socket`'s, or, with `ec` set (EMFILE...), a socket that is not open.
tcp::socket dup_socket(tcp::socket& socket, error_code& ec);

// Accepts forever, handing each new client to `on_accept` in accept order,
// as two socket objects over one connection (the second a dup of the
// descriptor): Tokio's `into_split()` for Asio, so that one task may read
// while another writes without the two touching the same object (an Asio
// socket object is not safe to use from two threads at once). TCP_NODELAY
// is set: frames are small and must not wait for Nagle. `on_accept` may be
// a coroutine, awaited before the next accept.
//
// The limits (docs/protocol.md, "Limits"): past --max-clients, a newcomer
// is closed before its id is sent (admission::try_admit). A failed accept
// is logged, throttled, and retried after `accept_backoff`; so is a
// failed dup: the client already taken waits for its second descriptor
// with the loop, so none is taken only to be closed, and the clients
// behind it wait in the listen backlog until descriptors free up.
template <class OnAccept>
asio::awaitable<void> accept_loop(tcp::acceptor& acceptor,
                                  admission& admitted,
                                  OnAccept on_accept) {
    asio::steady_timer backoff(acceptor.get_executor());
    auto pause = [&backoff] {
        backoff.expires_after(accept_backoff);
        return backoff.async_wait(asio::as_tuple(asio::use_awaitable));
    };
    for (;;) {
        auto [ec, socket] =
            co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted) {
            co_return;
        }
        if (ec) {
            admitted.not_now("accept", ec);
            co_await pause();
            continue;
        }
        if (!admitted.try_admit()) {
            continue;  // closed as it goes: before its id
        }
        socket.set_option(tcp::no_delay(true), ec);
        tcp::socket other = dup_socket(socket, ec);
        while (ec) {
            admitted.not_now("dup", ec);
            co_await pause();
            other = dup_socket(socket, ec);
        }
        using result =
            std::invoke_result_t<OnAccept&, tcp::socket, tcp::socket>;
        if constexpr (std::is_void_v<result>) {
            on_accept(std::move(socket), std::move(other));
        } else {
            co_await on_accept(std::move(socket), std::move(other));
        }
    }
}

// The same with no bound on clients, for the minimal versions
// (<variant>/minimal.cpp), which ignore --max-clients.
template <class OnAccept>
asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, OnAccept on_accept) {
    admission unbounded(std::numeric_limits<std::size_t>::max());
    co_await accept_loop(acceptor, unbounded, std::move(on_accept));
}

// --frame-timeout in the coroutine models (docs/protocol.md, point 9):
// how long a reader has waited for the rest of a partial frame. Only the
// waiting counts: in the two blocking models a reader held up by a
// stalled write does not read meanwhile, which is not its client's doing.
class frame_deadline {
  public:
    explicit frame_deadline(std::chrono::milliseconds timeout)
        : timeout_(timeout), left_(timeout) {}

    // After a read's frames were taken from `parser`; `completed`: it
    // completed at least one (common::frame_deadline_restarts).
    void after_read(const frame_parser& parser, bool completed) {
        if (frame_deadline_restarts(completed, parser.buffered() > 0)) {
            left_ = timeout_;
        }
    }

    // Whether the next wait has a deadline: a partial frame is held, and
    // the timeout is on. Without one, a reader parks in wait_readable(),
    // which allocates nothing.
    bool armed(const frame_parser& parser) const {
        return timeout_.count() > 0 && parser.buffered() > 0;
    }

    // Completes when `socket` is readable or failed, or when the time
    // left for the partial frame is spent: then with asio::error::timed_out.
    asio::awaitable<error_code> wait_readable(tcp::socket& socket);

  private:
    std::chrono::milliseconds timeout_;
    std::chrono::steady_clock::duration left_;
};

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
// the receiving side wakes the task reading the other half (see `accept_loop`),
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
