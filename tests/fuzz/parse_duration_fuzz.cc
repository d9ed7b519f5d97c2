// ParseDuration on command-line durations (gc --older-than). An accepted duration is never the
// result of nan, inf, a negative number or an overflow: it is a count of nanoseconds >= 0, and
// whole seconds print and parse back to themselves.
// Coverage: cli/parse.cc cairn::cli::ParseDuration(
#include <cmath>

#include "cli/parse.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  const std::string s(reinterpret_cast<const char*>(data), size);
  auto r = cli::ParseDuration(s);
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == Code::kInvalidArgument);
    return 0;
  }
  std::string lower;
  for (char c : s) lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  FUZZ_CHECK(lower.find("nan") == std::string::npos);
  FUZZ_CHECK(lower.find("inf") == std::string::npos);
  FUZZ_CHECK(s.find('-') == std::string::npos);
  FUZZ_CHECK(*r >= 0);
  // Whole seconds parse back to themselves, to within a double's precision (a duration is
  // computed in floating point: 6350665507s is 6350665507000000512 ns).
  const int64_t secs = *r / 1000000000;
  auto back = cli::ParseDuration(std::to_string(secs) + "s");
  FUZZ_CHECK(back.ok());
  const double want = double(secs) * 1e9;
  FUZZ_CHECK(std::fabs(double(*back) - want) <= want * 0x1p-50);
  return 0;
}
