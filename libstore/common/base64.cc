#include "libstore/common/base64.h"

#include <array>

namespace cairn {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kBad = 0xFF;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kBad;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  return t;
}
constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

Status Bad(std::string_view why, size_t pos) {
  return InvalidArgument("invalid base64: " + std::string(why) + " at offset " +
                         std::to_string(pos));
}

}  // namespace

void Base64EncodeTo(const void* data, size_t len, char* out) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = uint32_t{p[i]} << 16 | uint32_t{p[i + 1]} << 8 | p[i + 2];
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
    *out++ = kAlphabet[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = '=';
    *out++ = '=';
  } else if (len - i == 2) {
    uint32_t v = uint32_t{p[i]} << 16 | uint32_t{p[i + 1]} << 8;
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
    *out++ = '=';
  }
}

std::string Base64Encode(const void* data, size_t len) {
  std::string s(Base64EncodedLen(len), '\0');
  Base64EncodeTo(data, len, s.data());
  return s;
}

Result<size_t> Base64DecodeTo(std::string_view in, uint8_t* out, size_t cap) {
  if (in.size() % 4 != 0) {
    return InvalidArgument("invalid base64: length " + std::to_string(in.size()) +
                           " is not a multiple of 4");
  }
  size_t n = 0;
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    // Padding only in the last quantum: "xx==" or "xxx=".
    size_t pad = 0;
    if (last && in[i + 3] == '=') pad = in[i + 2] == '=' ? 2 : 1;
    uint32_t v = 0;
    for (size_t j = 0; j < 4 - pad; ++j) {
      uint8_t d = kDecode[static_cast<uint8_t>(in[i + j])];
      if (d == kBad) {
        return Bad(in[i + j] == '=' ? "misplaced padding" : "character outside the alphabet",
                   i + j);
      }
      v |= uint32_t{d} << (18 - 6 * j);
    }
    const size_t bytes = 3 - pad;
    // The bits below the last byte must be zero, or two encodings would decode the same.
    if (pad == 2 && (v & 0xFFFF) != 0) return Bad("nonzero bits in padding", i + 1);
    if (pad == 1 && (v & 0xFF) != 0) return Bad("nonzero bits in padding", i + 2);
    if (n + bytes > cap) {
      return InvalidArgument("invalid base64: decodes to more than " + std::to_string(cap) +
                             " bytes");
    }
    out[n++] = static_cast<uint8_t>(v >> 16);
    if (bytes > 1) out[n++] = static_cast<uint8_t>(v >> 8);
    if (bytes > 2) out[n++] = static_cast<uint8_t>(v);
  }
  return n;
}

Result<std::string> Base64Decode(std::string_view in) {
  std::string s(Base64MaxDecodedLen(in.size()), '\0');
  auto n = Base64DecodeTo(in, reinterpret_cast<uint8_t*>(s.data()), s.size());
  if (!n.ok()) return n.status();
  s.resize(*n);
  return s;
}

}  // namespace cairn
