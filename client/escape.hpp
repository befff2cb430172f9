// What router_client prints of a frame or of a line it refuses: every
// byte that could drive the terminal escaped, the rest as it came.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace client {

// The length of the UTF-8 sequence at the start of `s` if it is valid and
// prints (not a C1 control, U+0080 to U+009F), else 0.
inline std::size_t printable_utf8(std::string_view s) {
    const auto lead = static_cast<unsigned char>(s[0]);
    const std::size_t len = lead >= 0xc2 && lead <= 0xdf   ? 2
                            : lead >= 0xe0 && lead <= 0xef ? 3
                            : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                           : 0;
    if (len == 0 || s.size() < len ||
        (lead == 0xc2 && static_cast<unsigned char>(s[1]) < 0xa0)) {
        return 0;
    }
    for (std::size_t i = 1; i < len; ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) {
            return 0;
        }
    }
    return len;
}

// `text` with every byte that could drive the terminal escaped as \xNN:
// C0 and C1 controls (raw, or C1 as UTF-8), DEL, stray bytes that are not
// UTF-8, and the backslash itself.
inline std::string escaped(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        const auto ch = static_cast<unsigned char>(text[i]);
        const std::size_t len = ch >= 0x80 ? printable_utf8(text.substr(i)) : 1;
        if (len == 0 || ch < 0x20 || ch == 0x7f || ch == '\\') {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\x%02x", ch);
            out += esc;
            ++i;
        } else {
            out += text.substr(i, len);
            i += len;
        }
    }
    return out;
}

}  // namespace client
