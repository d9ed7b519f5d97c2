// ParseEc on `--ec K+M`. An accepted layout has K >= 1 and K+M <= kMaxShards without overflow,
// comes from decimal digits and one '+', and prints back to itself.
// Coverage: libstore/object/set_open.cc cairn::ParseEc(
#include "libstore/erasure/codec.h"
#include "libstore/object/set_open.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  const std::string s(reinterpret_cast<const char*>(data), size);
  auto r = ParseEc(s);
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == Code::kInvalidArgument);
    return 0;
  }
  const auto [k, m] = *r;
  FUZZ_CHECK(k >= 1);
  FUZZ_CHECK(uint64_t(k) + m <= uint64_t(kMaxShards));
  for (char c : s) FUZZ_CHECK((c >= '0' && c <= '9') || c == '+');
  auto back = ParseEc(std::to_string(k) + "+" + std::to_string(m));
  FUZZ_CHECK(back.ok() && *back == *r);
  return 0;
}
