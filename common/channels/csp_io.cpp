// The channel variants' shared half: see csp_io.hpp.
#include "common/channels/csp_io.hpp"

#include <tuple>
#include <utility>

#include "common/frame_parser.hpp"

namespace common {

namespace {

constexpr auto as_tuple = asio::as_tuple(asio::use_awaitable);

// Moves every complete frame in `parser` into `out`, in order.
frame_parser::status take_frames(frame_parser& parser,
                                 std::vector<parcel>& out) {
    frame f;
    auto status = frame_parser::status::frame;
    while ((status = parser.next(f)) == frame_parser::status::frame) {
        if (out.empty() || out.back().dest != f.dest) {
            out.push_back({f.dest, {}, 0});
        }
        out.back().bytes += f.message;
        ++out.back().frame_count;
    }
    return status;
}

}  // namespace

// Ids are given in accept order: the accept loop queues a client's
// `new_client` before it accepts the next one, and the dispatcher numbers
// them in the order it takes them.
asio::awaitable<void> admit(inbox_channel& inbox, tcp::socket socket) {
    try {
        auto [read_half, write_half] = split(std::move(socket));
        message hello = new_client{std::move(write_half), std::move(read_half)};
        co_await inbox.async_send(error_code{}, std::move(hello), as_tuple);
    } catch (const boost::system::system_error& e) {
        // No descriptor left to dup: this client only is turned away.
        log("accept: ", e.what(), "; connection closed");
    }
}

// The id is in use from here until the dispatcher takes the reader's
// `client_left`, the last message that names it: a client dropped from the
// table after a failed write keeps it until then.
client_id welcome(inbox_channel& inbox,
                  id_pool& ids,
                  new_client& client,
                  std::size_t max_frame) {
    const client_id id = ids.take();
    // On the socket's executor, not the dispatcher's (maybe a strand).
    auto ex = client.read_half.get_executor();
    co_spawn(ex,
             reader(inbox, std::move(client.read_half), id, max_frame),
             asio::detached);
    return id;
}

// GCC 12 (seen at -O1 with the sanitizers, the asan preset) warns that
// the coroutine frame's operator delete (Asio's awaitable_frame_base) does
// not match the aligned_alloc its operator new calls. They match: Asio
// frees that block with aligned_delete, that is free(). A false positive
// of -Wmismatched-new-delete, silenced for this function only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// snippet: csp_io-reader
// One message per read: every complete frame in it is sent on, even at
// EOF. The channel is FIFO for each sender, so this client's frames reach
// the dispatcher in order, and all of them before its `client_left`: what
// it sent completely is still forwarded, to itself too after a half-close.
asio::awaitable<void> reader(inbox_channel& inbox,
                             tcp::socket socket,
                             client_id id,
                             std::size_t max_frame) {
    frame_parser parser(max_frame);
    error_code ec;
    socket.non_blocking(true, ec);  // for read_now (common/net.hpp)
    auto status = frame_parser::status::need_more;
    while (!ec && status != frame_parser::status::too_long) {
        const bool drained = read_now(socket, parser, ec).drained;
        send batch{id, {}};
        status = take_frames(parser, batch.parcels);
        // A short read has emptied the socket: park now, rather than read
        // again only to find nothing (the wait looks at the socket afresh,
        // so bytes that came meanwhile are not missed). The buffer goes
        // back before the send (the frames are copied out already): given
        // back by the thread that took it, before anything else runs
        // there, the block is reused by the next read; given back after
        // the send, often on another thread, glibc tends to return it to
        // the kernel, and the next read faults it in again.
        if (drained) {
            parser.release();
        }
        if (!batch.parcels.empty()) {
            co_await inbox.async_send(error_code{}, std::move(batch), as_tuple);
        }
        if (drained && status != frame_parser::status::too_long) {
            std::tie(ec) = co_await wait_readable(socket);
        }
    }
    if (status == frame_parser::status::too_long) {
        log_frame_too_long(id, max_frame);
    } else if (!is_normal_close(ec)) {
        log("client ", id, ": ", ec.message());
    }
    // The read buffer goes now, not once the dispatcher has room for the
    // message below: when many clients leave at once, they wait for it.
    parser = frame_parser(max_frame);
    // At EOF the client may still read (a half-close): its frames to itself
    // are not written yet, and the writing side ends the connection once
    // they are. Otherwise it ends now, though the writing half of the
    // descriptor stays open until the dispatcher takes `client_left`.
    const bool eof =
        status != frame_parser::status::too_long && ec == asio::error::eof;
    if (!eof) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
    }
    message bye = client_left{id, eof};
    co_await inbox.async_send(error_code{}, std::move(bye), as_tuple);
}
// snippet-end
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void drop(drop_counter& drops, const parcel& p, client_id from) {
    for (std::size_t i = 0; i < p.frame_count; ++i) {
        drops.dropped(p.dest, from);
    }
}

}  // namespace common
