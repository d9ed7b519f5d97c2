// ParseSize on command-line sizes (--block-size, --inline-limit, --max-rate, bench --size). An
// accepted size is never the result of nan, inf, a negative number or an overflow (UBSan traps a
// float-to-integer cast out of range), and the plain number it gives parses back to itself.
// Coverage: cli/parse.cc cairn::cli::ParseSize(
#include "cli/parse.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  const std::string s(reinterpret_cast<const char*>(data), size);
  auto r = cli::ParseSize(s);
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == Code::kInvalidArgument);
    return 0;
  }
  std::string lower;
  for (char c : s) lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  FUZZ_CHECK(lower.find("nan") == std::string::npos);
  FUZZ_CHECK(lower.find("inf") == std::string::npos);
  FUZZ_CHECK(s.find('-') == std::string::npos);
  auto back = cli::ParseSize(std::to_string(*r));
  FUZZ_CHECK(back.ok() && *back == *r);
  return 0;
}
