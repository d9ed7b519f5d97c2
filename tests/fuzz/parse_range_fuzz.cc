// ParseRange on `get --range FIRST-LAST`. An accepted range has FIRST <= LAST, comes from decimal
// digits only (no sign, no overflow), and prints back to an equivalent range.
// Coverage: commands/object_commands.cc cairn::cli::ParseRange(
#include "commands/commands.h"
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
  FUZZ_CHECK(r.first <= r.last);
  for (char c : s) FUZZ_CHECK((c >= '0' && c <= '9') || c == '-');
  const std::string again =
      std::to_string(r.first) + "-" + (r.last == UINT64_MAX ? "" : std::to_string(r.last));
  GetRange r2;
  FUZZ_CHECK(cli::ParseRange(again, &r2).ok());
  FUZZ_CHECK(r2.first == r.first && r2.last == r.last);
  return 0;
}
