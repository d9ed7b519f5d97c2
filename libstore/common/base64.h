// Base64 (RFC 4648 section 4, the standard alphabet with '=' padding): how S3 carries binary
// digests in headers and XML (Content-MD5, x-amz-checksum-*).
//
// Decoding is strict, because a digest that decodes "leniently" is a digest nobody sent: the input
// length is a multiple of 4, '=' appears only as the last one or two characters, the bits that
// padding leaves over are zero (so every byte string has exactly one accepted encoding), and no
// other character (whitespace, URL-safe '-' '_', NUL) is allowed.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn {

// Length of the encoding of n bytes (always a multiple of 4).
constexpr size_t Base64EncodedLen(size_t n) { return (n + 2) / 3 * 4; }
// Upper bound of the bytes an encoding of n characters decodes to.
constexpr size_t Base64MaxDecodedLen(size_t n) { return n / 4 * 3; }

// Writes Base64EncodedLen(len) characters to out (no terminating NUL).
void Base64EncodeTo(const void* data, size_t len, char* out);
std::string Base64Encode(const void* data, size_t len);
inline std::string Base64Encode(std::string_view s) { return Base64Encode(s.data(), s.size()); }

// Decodes `in` into out[0, cap) without allocating; returns the number of bytes written.
// kInvalidArgument naming the first offending position when `in` is not strict base64, or when
// the decoded bytes would not fit in cap (out is then unspecified).
Result<size_t> Base64DecodeTo(std::string_view in, uint8_t* out, size_t cap);
// The same into a new string.
Result<std::string> Base64Decode(std::string_view in);

}  // namespace cairn
