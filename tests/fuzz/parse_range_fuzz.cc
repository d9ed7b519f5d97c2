// ParseRange on `get --range FIRST-LAST|-N`. An accepted range is either a suffix (-N) or has
// FIRST <= LAST, comes from decimal digits and one dash only (no sign, no overflow), and prints
// back to an equivalent range.
// Coverage: cli/parse.cc cairn::cli::ParseRange(
#include "cli/parse.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  const std::string s(reinterpret_cast<const char*>(data), size);
  GetRange r;
  Status st = cli::ParseRange(s, &r);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == Code::kInvalidArgument);
    return 0;
  }
  for (char c : s) FUZZ_CHECK((c >= '0' && c <= '9') || c == '-');
  std::string again;
  if (r.suffix) {
    again = "-" + std::to_string(r.suffix_len);
  } else {
    FUZZ_CHECK(r.first <= r.last);
    again =
        std::to_string(r.first) + "-" + (r.last == GetRange::kToEnd ? "" : std::to_string(r.last));
  }
  GetRange r2;
  FUZZ_CHECK(cli::ParseRange(again, &r2).ok());
  FUZZ_CHECK(r2.suffix == r.suffix && r2.suffix_len == r.suffix_len && r2.first == r.first &&
             r2.last == r.last);
  return 0;
}
