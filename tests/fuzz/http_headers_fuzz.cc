// The Range header and HTTP dates on any bytes. Properties: a range resolves inside the object
// (first <= last < size) or is refused; a range that parsed prints back to an equivalent header;
// an accepted date formats (IMF-fixdate) to a string that parses back to the same time, and a
// formatted time always parses.
// Coverage: libstore/server/request_target.cc cairn::server::ParseRangeHeader(
// Coverage: libstore/server/request_target.cc cairn::server::ResolveRange(
// Coverage: libstore/server/request_target.cc cairn::server::ParseHttpDate(
// Coverage: libstore/server/request_target.cc cairn::server::FormatHttpDate(
#include <cstring>

#include "libstore/server/request_target.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn::server;
  const std::string s(reinterpret_cast<const char*>(data), size);

  const ByteRange r = ParseRangeHeader(s);
  std::string printed;
  switch (r.kind) {
    case ByteRange::Kind::kNone:
      break;
    case ByteRange::Kind::kFromTo:
      FUZZ_CHECK(r.first <= r.last);
      printed = "bytes=" + std::to_string(r.first) + "-" + std::to_string(r.last);
      break;
    case ByteRange::Kind::kFrom:
      printed = "bytes=" + std::to_string(r.first) + "-";
      break;
    case ByteRange::Kind::kSuffix:
      printed = "bytes=-" + std::to_string(r.suffix);
      break;
  }
  if (!printed.empty()) {
    const ByteRange r2 = ParseRangeHeader(printed);
    FUZZ_CHECK(r2.kind == r.kind && r2.first == r.first && r2.last == r.last &&
               r2.suffix == r.suffix);
  }
  uint64_t size_seed = 0;
  std::memcpy(&size_seed, data, std::min<size_t>(size, 8));
  for (uint64_t obj : {uint64_t(0), uint64_t(1), uint64_t(1000), size_seed, UINT64_MAX}) {
    uint64_t first = 0, last = 0;
    if (ResolveRange(r, obj, &first, &last)) {
      FUZZ_CHECK(first <= last && last < obj);
    } else {
      FUZZ_CHECK(obj == 0 || r.kind != ByteRange::Kind::kNone);
    }
  }

  if (auto t = ParseHttpDate(s)) {
    char buf[32];
    FUZZ_CHECK(FormatHttpDate(*t, buf) == 29);
    FUZZ_CHECK(ParseHttpDate(buf) == t);
  }
  int64_t secs = 0;
  std::memcpy(&secs, data, std::min<size_t>(size, 8));
  secs = int64_t(uint64_t(secs) % uint64_t(253402300800));  // years 1970..9999
  char buf[32];
  FormatHttpDate(secs, buf);
  FUZZ_CHECK(ParseHttpDate(buf) == secs);
  return 0;
}
