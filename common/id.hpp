// Client ids: on the wire, a u32 in network order, and how they are handed
// out (docs/protocol.md, point 1).
#pragma once

#include <array>
#include <cstdint>
#include <unordered_set>
#include <utility>

namespace common {

using client_id = std::uint32_t;

inline std::array<char, 4> encode_id(client_id id) {
    return {static_cast<char>(id >> 24),
            static_cast<char>(id >> 16),
            static_cast<char>(id >> 8),
            static_cast<char>(id)};
}

inline client_id decode_id(const char* p) {
    auto b = [p](int i) { return static_cast<client_id>(std::uint8_t(p[i])); };
    return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

// snippet: node-ids
// Cluster mode (docs/protocol.md, "Cluster mode"): an id's top 8 bits
// name the node whose client it is, so any router finds an id's node from
// the id alone, without knowing how many nodes there are: nodes join and
// leave without the others being told. Node 0's ids are those of a router
// running alone, from 0 up; a node's counter wraps within its 2^24 ids.
// Without --cluster a counter hands out every u32 (all_ids), as ever.
inline constexpr unsigned node_bits = 8;
inline constexpr unsigned max_nodes = 1u << node_bits;

constexpr unsigned node_of(client_id id) {
    return id >> (32 - node_bits);
}

// The ids a counter hands out: [first, last].
struct id_range {
    client_id first = 0;
    client_id last = 0xFFFFFFFF;
};

inline constexpr id_range all_ids{};

constexpr id_range node_ids(unsigned node) {
    const client_id first = client_id{node} << (32 - node_bits);
    return {first, first + ((client_id{1} << (32 - node_bits)) - 1)};
}
// snippet-end

// Hands out ids in accept order, from 0. After 2^32 accepts the counter
// wraps, and from then on an id still in use is skipped: two connected
// clients never share an id (a newcomer with a live client's id would be
// unreachable, or take the live one's place in the table, and when it left
// it would remove the live one). So a free id comes back only after 2^32
// accepts. The skip ends: each client in use holds a descriptor, so far
// fewer than 2^32 are in use at once.
class id_counter {
  public:
    // `jump`, for tests only (options::id_jump): the id handed out second.
    // `range`: a node's ids in cluster mode (node_ids), from its first.
    explicit id_counter(client_id jump = 0, id_range range = all_ids)
        : next_(range.first), jump_(jump), range_(range) {}

    template <class InUse>
    client_id next(const InUse& in_use) {
        while (in_use(next_)) {
            advance();
        }
        const client_id id = next_;
        advance();
        if (jump_ != 0) {
            next_ = std::exchange(jump_, 0);
        }
        return id;
    }

  private:
    void advance() { next_ = next_ == range_.last ? range_.first : next_ + 1; }

    client_id next_;
    client_id jump_;
    id_range range_;
};

// An id_counter that keeps the set of ids in use itself, for the models
// whose table does not know every client that still holds its id (one may
// have left the table, after a failed write, while its task still runs and
// will name its id when it ends): an id is taken when its client is
// numbered and given back when the last task that names it is done.
// Not thread-safe: the model guards it as it guards its table.
class id_pool {
  public:
    explicit id_pool(client_id jump = 0, id_range range = all_ids)
        : counter_(jump, range) {}

    client_id take() {
        const client_id id =
            counter_.next([this](client_id i) { return live_.contains(i); });
        live_.insert(id);
        return id;
    }
    void give_back(client_id id) { live_.erase(id); }

  private:
    id_counter counter_;
    std::unordered_set<client_id> live_;
};

}  // namespace common
