// Frames on their way from one thread to a reactor that owns their
// destination: packed one after another in one buffer (a parcel), each as
// [from: u32][dest: u32][length: u32][message: length bytes], in host
// order (they never leave the process). `message` is what the destination
// receives: the payload and its terminating 0, as common::frame has it.
//
// Sans-I/O, like router_core, which writes parcels for the other shards
// and reads those it is handed (router_core::handle_parcel): a producer
// that is not a shard (another thread of the process) packs its frames
// with pack_frame() and pushes the parcel into the owning reactor's inbox
// (common/reactor/inbox.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "common/id.hpp"

namespace common {

inline constexpr std::size_t parcel_header = 12;

// Appends one frame to `parcel`.
inline void pack_frame(std::vector<char>& parcel,
                       client_id from,
                       client_id dest,
                       std::string_view message) {
    const std::uint32_t header[3] = {
        from, dest, static_cast<std::uint32_t>(message.size())};
    const std::size_t at = parcel.size();
    parcel.resize(at + parcel_header + message.size());
    std::memcpy(parcel.data() + at, header, parcel_header);
    std::memcpy(
        parcel.data() + at + parcel_header, message.data(), message.size());
}

// Calls f(from, dest, message) for each frame of `parcel`, in order.
template <class F>
void unpack_frames(std::span<const char> parcel, F&& f) {
    std::size_t at = 0;
    while (parcel.size() - at >= parcel_header) {
        std::uint32_t header[3];
        std::memcpy(header, parcel.data() + at, parcel_header);
        at += parcel_header;
        const std::size_t n =
            std::min<std::size_t>(header[2], parcel.size() - at);
        f(client_id{header[0]},
          client_id{header[1]},
          std::string_view(parcel.data() + at, n));
        at += n;
    }
}

}  // namespace common
