// What every fuzz target shares: a property check that stops the run with a message (libFuzzer
// then saves the input as crash-*), and resealing of checksummed formats so the fuzzer reaches the
// decoder's field checks instead of failing at the checksum every time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "libstore/common/hash.h"

// Checks a property of the code under test; on failure prints it and aborts.
#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace cairn::fuzz {

// `in` with the XXH3-64 of bytes [0, sum_at) written at sum_at, as the encoders do; "" when `in`
// is too short to hold it.
inline std::string Resealed(std::string_view in, size_t sum_at) {
  if (in.size() < sum_at + 8) return {};
  std::string out(in);
  uint64_t sum = Xxh3_64(out.data(), sum_at);
  std::memcpy(out.data() + sum_at, &sum, 8);
  return out;
}

// The same for formats whose checksum is the last 8 bytes.
inline std::string ResealedTail(std::string_view in) {
  if (in.size() < 8) return {};
  return Resealed(in, in.size() - 8);
}

}  // namespace cairn::fuzz
