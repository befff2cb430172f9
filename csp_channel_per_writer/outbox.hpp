// What a client's writer side is built from, chosen so that an idle client
// costs little (docs/results.md, "Memory per idle connection").
//
// The strand: of the io_context's own executor, not of any_io_executor, so
// that an any_io_executor holds it without allocating (24 bytes fit in it;
// a strand of any_io_executor takes 72).
//
// The outbox: Asio's concurrent channel, buffering in a container that
// allocates nothing until the first message. Asio's channels keep their
// buffered messages in a std::deque, and libstdc++'s deque allocates about 600
// bytes as soon as it is constructed: for every client, idle or not, before any
// message. A devector (Boost.Container) allocates on its first push and keeps
// its capacity after, so an idle client's outbox costs only the channel itself.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/basic_concurrent_channel.hpp>
#include <boost/asio/experimental/channel_traits.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/container/devector.hpp>
#include <string>

#include "common/net.hpp"

namespace csp_channel_per_writer {

using executor_type = boost::asio::io_context::executor_type;
using strand_type = boost::asio::strand<executor_type>;

// The default traits (what a closed or cancelled channel hands its
// receivers), but for the container.
template <class... Signatures>
struct outbox_traits
    : boost::asio::experimental::channel_traits<Signatures...> {
    template <class... Other>
    struct rebind {
        using other = outbox_traits<Other...>;
    };
    template <class Element>
    struct container {
        using type = boost::container::devector<Element>;
    };
};

// The article's capacity (`inbox_capacity`) for each outbox too; past it,
// sends spill into tasks (`spill`), bounded in bytes by --max-pending.
constexpr std::size_t outbox_capacity = 100;

using outbox_channel = boost::asio::experimental::basic_concurrent_channel<
    boost::asio::any_io_executor,
    outbox_traits<>,
    void(common::error_code, std::string)>;

// Ends an outbox: its spilled sends fail and free their bytes, its writer's
// next receive fails. Called where spilled sends run (the dispatcher's
// strand), so none starts in between. cancel() before close(): Asio 1.26's
// close() (Boost 1.81) leaves waiting senders waiting, and a later cancel()
// takes them for receivers.
inline void close_outbox(outbox_channel& outbox) {
    outbox.cancel();
    outbox.close();
}

}  // namespace csp_channel_per_writer
