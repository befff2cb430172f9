// What the load generator needs from a server's protocol, so that the
// driver runs the same load through the router, Redis or NATS: a handshake,
// the framing of a message to a partner, and the parsing of what arrives.
//
// A client receives at an address: the id the router assigns it, or the
// pub/sub channel (Redis) or subject (NATS) named after its index, to which
// it subscribes. Sending to a partner is sending to the partner's address.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config.hpp"

namespace loadgen {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct address {
    std::uint32_t id = 0;  // router: assigned by the server at connect
    std::string channel;   // pub/sub: "c<index>", or "slow"
};

// One complete unit of what the server sent.
struct event {
    enum kind_t { payload, server_error, other } kind = other;
    std::string_view data;  // the payload, or the error's text
};

class protocol {
  public:
    virtual ~protocol() = default;

    // As the JSON report names it.
    virtual const char* name() const = 0;

    // Right after connect. A client that subscribes receives at `self`
    // (whose channel is set); one that does not only sends. Fills in what
    // the server assigns. Returns what went wrong, or "" once the client
    // is ready: subscribed, nothing else pending.
    virtual asio::awaitable<std::string> handshake(tcp::socket& sock,
                                                   address& self,
                                                   bool subscribe) const = 0;

    // About how many bytes a frame of `size` payload bytes takes on the
    // wire (to size the batches).
    virtual std::size_t wire_size(std::size_t size) const = 0;

    // A frame to `to` is begin_frame, the `size` payload bytes, end_frame.
    virtual void begin_frame(std::string& out,
                             const address& to,
                             std::size_t size) const = 0;
    virtual void end_frame(std::string& out) const = 0;

    // Takes the next complete unit out of [p, end), advancing p; false,
    // p unchanged, if what is there is incomplete. What the protocol must
    // answer (NATS: PONG to the server's PING) is appended to `reply`.
    virtual bool next(const char*& p,
                      const char* end,
                      event& e,
                      std::string& reply) const = 0;

  protected:
    // The handshake of a text protocol (Redis, NATS): writes `hello`, then
    // reads what the server sends, unit by unit through next() (answering
    // what it asks), until an error or the unit `ready` accepts, which
    // must be the last the server sent. Returns as handshake() does.
    asio::awaitable<std::string> greet(
        tcp::socket& sock,
        std::string hello,
        std::function<bool(const event&)> ready) const;
};

std::unique_ptr<protocol> make_protocol(protocol_kind kind);

}  // namespace loadgen
