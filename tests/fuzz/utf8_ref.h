// A UTF-8 decoder of the fuzz targets' own, to check the code's against: strict RFC 3629 (no
// overlong forms, no surrogates, nothing past U+10FFFF).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace cairn::fuzz {

// Appends the code points of s to *cps; false if s is not well-formed UTF-8.
inline bool DecodeUtf8(std::string_view s, std::vector<uint32_t>* cps) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char b = s[i];
    const size_t len = b < 0x80         ? 1
                       : (b >> 5) == 6  ? 2
                       : (b >> 4) == 14 ? 3
                       : (b >> 3) == 30 ? 4
                                        : 0;
    if (len == 0 || len > s.size() - i) return false;
    uint32_t c = len == 1 ? b : b & (0x7F >> len);
    for (size_t j = 1; j < len; ++j) {
      const unsigned char cont = s[i + j];
      if ((cont & 0xC0) != 0x80) return false;
      c = (c << 6) | (cont & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kMin[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    cps->push_back(c);
    i += len;
  }
  return true;
}

}  // namespace cairn::fuzz
