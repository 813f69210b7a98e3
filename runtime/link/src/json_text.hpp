#pragma once
// A JSON string written by hand where a JSON library would be a dependency for one
// function (the daemons' log lines, the timeline's trace): escaped, and valid UTF-8
// whatever the input holds (error messages can hold anything): a byte that does not
// start a well-formed sequence becomes U+FFFD.

#include <cstdio>
#include <string>
#include <string_view>

namespace shoal::link::detail {

/// The length of the UTF-8 sequence at s[i] when it is well formed (RFC 3629: no
/// overlong forms, no surrogates, nothing past U+10FFFF), else 0.
inline std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  auto second = static_cast<unsigned char>(s[i + 1]);
  unsigned char lo = 0x80, hi = 0xBF;
  if (c == 0xE0) lo = 0xA0;       // overlong
  else if (c == 0xED) hi = 0x9F;  // surrogates
  else if (c == 0xF0) lo = 0x90;  // overlong
  else if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
  if (second < lo || second > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

/// Appends `s` to `out` as a JSON string, quotes included.
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (auto n = utf8_length(s, i)) {
        out.append(s.substr(i, n));
        i += n - 1;
      } else {
        out += "\\ufffd";
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace shoal::link::detail
