// Frames from the bus into the reactors' inboxes (common/cluster/inlet.hpp):
// packed per owning reactor, handed over once the library holds no more.
#include "common/cluster/inlet.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <tuple>
#include <vector>

using common::client_id;

namespace {

using frame = std::tuple<client_id, client_id, std::string>;

// Everything queued in `inbox`: the number of parcels and their frames.
std::pair<std::size_t, std::vector<frame>> take(common::reactor_inbox& inbox) {
    std::vector<common::mail> mail;
    inbox.take_all(mail);
    std::vector<frame> frames;
    for (auto& m : mail) {
        common::unpack_frames(
            std::get<std::vector<char>>(m),
            [&](client_id from, client_id dest, std::string_view message) {
                frames.emplace_back(from, dest, std::string(message));
            });
    }
    return {mail.size(), frames};
}

unsigned modulo(client_id id, unsigned count) {
    return id % count;
}

}  // namespace

TEST_CASE(
    "the inlet packs frames per reactor and hands them over at the end "
    "of a burst",
    "[cluster][inlet]") {
    boost::asio::io_context ioc;
    common::reactor_inbox even(ioc, 1 << 20), odd(ioc, 1 << 20);
    common::cluster::inlet in({&even, &odd}, modulo);
    using namespace std::string_literals;
    in(7, 10, "a\0"s, true);
    in(7, 11, "b\0"s, true);
    in(8, 12, "c\0"s, true);
    // The library still holds more: nothing handed over yet.
    CHECK(take(even).first == 0);
    in(8, 13, "d\0"s, false);
    const auto [even_parcels, to_even] = take(even);
    const auto [odd_parcels, to_odd] = take(odd);
    CHECK(even_parcels == 1);
    CHECK(odd_parcels == 1);
    CHECK(to_even == std::vector<frame>{{7, 10, "a\0"s}, {8, 12, "c\0"s}});
    CHECK(to_odd == std::vector<frame>{{7, 11, "b\0"s}, {8, 13, "d\0"s}});
}

TEST_CASE("the inlet hands a parcel over once it is large, burst or not",
          "[cluster][inlet]") {
    boost::asio::io_context ioc;
    common::reactor_inbox only(ioc, 1 << 30);
    common::cluster::inlet in({&only}, modulo);
    const std::string message(1000, 'x');
    const std::size_t count = 2 * common::cluster::inlet::parcel_bytes / 1000;
    for (std::size_t i = 0; i < count; ++i) {
        in(1, 2, message, true);
    }
    const auto [parcels, frames] = take(only);
    CHECK(parcels >= 1);
    CHECK(frames.size() < count);  // the rest waits for the burst's end
    in(1, 2, message, false);
    CHECK(frames.size() + take(only).second.size() == count + 1);
}
