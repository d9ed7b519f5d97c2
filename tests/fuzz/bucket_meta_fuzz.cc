// BucketMeta::Decode and DecodeOrLegacy on <bucket>/bucket.meta (any member's, so any bytes). A
// record decodes only when it is exactly one record with a time >= 0, and re-encodes to exactly
// the input; the legacy form is nothing but decimal digits that fit an i64, and heal's rewrite of
// it (Encode) decodes to the same time. An encoder given any time writes a record exactly when the
// time is >= 0, and it decodes to that time.
// Coverage: libstore/format/bucket_meta.cc cairn::BucketMeta::Decode(
// Coverage: libstore/format/bucket_meta.cc cairn::BucketMeta::DecodeOrLegacy(
#include <charconv>
#include <cstring>

#include "libstore/format/bucket_meta.h"
#include "tests/fuzz/fuzz_check.h"

namespace cairn {
namespace {

void Check(std::string_view in) {
  auto d = BucketMeta::Decode(in);
  bool legacy = true;
  auto l = BucketMeta::DecodeOrLegacy(in, &legacy);
  if (d.ok()) {
    FUZZ_CHECK(in.size() == kBucketMetaSize);
    FUZZ_CHECK(d->created_ns >= 0);
    auto enc = d->Encode();
    FUZZ_CHECK(enc.ok() && *enc == in);
    FUZZ_CHECK(l.ok() && !legacy && l->created_ns == d->created_ns);
    return;
  }
  FUZZ_CHECK(d.status().code() == Code::kCorruption);
  if (!l.ok()) {
    FUZZ_CHECK(!legacy);
    FUZZ_CHECK(l.status().code() == Code::kCorruption);
    return;
  }
  // The legacy form: decimal digits, nothing else, and the time they spell.
  FUZZ_CHECK(legacy);
  FUZZ_CHECK(!in.empty() && in.find_first_not_of("0123456789") == std::string_view::npos);
  int64_t want = 0;
  auto r = std::from_chars(in.data(), in.data() + in.size(), want);
  FUZZ_CHECK(r.ec == std::errc() && r.ptr == in.data() + in.size());
  FUZZ_CHECK(l->created_ns == want && want >= 0);
  auto enc = l->Encode();
  FUZZ_CHECK(enc.ok());
  auto again = BucketMeta::Decode(*enc);
  FUZZ_CHECK(again.ok() && again->created_ns == want);
}

void CheckEncode(const uint8_t* data, size_t size) {
  if (size < 8) return;
  BucketMeta m;
  std::memcpy(&m.created_ns, data, 8);
  auto enc = m.Encode();
  FUZZ_CHECK(enc.ok() == (m.created_ns >= 0));
  if (!enc.ok()) {
    FUZZ_CHECK(enc.status().code() == Code::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(enc->size() == kBucketMetaSize);
  auto d = BucketMeta::Decode(*enc);
  FUZZ_CHECK(d.ok() && d->created_ns == m.created_ns);
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cairn::fuzz::RoundTripTarget(data, size, cairn::Check, cairn::CheckEncode);
}
