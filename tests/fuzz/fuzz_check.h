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
#include "libstore/common/status.h"

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

// The encoder's half of a round trip: v.Encode() succeeds exactly when `within` (else fails with
// kInvalidArgument: the store never writes what it could not read back), writes at most max_size
// bytes, and T::Decode gives back a value `same` to v.
template <typename T, typename Same>
void CheckEncodes(const T& v, bool within, size_t max_size, Same same) {
  auto enc = v.Encode();
  FUZZ_CHECK(enc.ok() == within);
  if (!enc.ok()) {
    FUZZ_CHECK(enc.status().code() == Code::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(enc->size() <= max_size);
  auto d = T::Decode(*enc);
  FUZZ_CHECK(d.ok());
  FUZZ_CHECK(same(*d, v));
}

// The entry point of a target over a checksummed format: the decoder on the input as it is and
// resealed (the checksum recomputed over the first sum_at bytes, written at sum_at; sum_at past the
// input: over all but its last 8 bytes), then the encoder on values built from the input.
template <typename Decode, typename Encode>
int RoundTripTarget(const uint8_t* data, size_t size, Decode check_decode, Encode check_encode,
                    size_t sum_at = SIZE_MAX) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_decode(in);
  check_decode(sum_at == SIZE_MAX ? ResealedTail(in) : Resealed(in, sum_at));
  check_encode(data, size);
  return 0;
}

}  // namespace cairn::fuzz
