// MrfEntry::Decode on the files of .cairn/mrf/ (any member's, so any bytes). A decoded entry keeps
// the format's limits, names a valid bucket and key (heal acts on them) and re-encodes to exactly
// the input; an entry built from the input encodes exactly when it is within those limits, and
// then decodes to the same value (the encoder refuses what the decoder would refuse).
// Coverage: libstore/format/mrf_entry.cc cairn::MrfEntry::Decode(
// Coverage: libstore/format/mrf_entry.cc cairn::MrfEntry::Encode(
#include <fuzzer/FuzzedDataProvider.h>

#include "libstore/format/key_path.h"
#include "libstore/format/mrf_entry.h"
#include "tests/fuzz/fuzz_check.h"

namespace cairn {
namespace {

bool Same(const MrfEntry& a, const MrfEntry& b) {
  return a.bucket == b.bucket && a.key == b.key && a.version_id == b.version_id &&
         a.positions == b.positions && a.time_ns == b.time_ns;
}

void CheckDecode(std::string_view in) {
  auto d = MrfEntry::Decode(in);
  if (!d.ok()) {
    FUZZ_CHECK(d.status().code() == Code::kCorruption);
    return;
  }
  FUZZ_CHECK(d->id.empty());
  FUZZ_CHECK(d->bucket.size() <= kMrfMaxBucket && d->key.size() <= kMrfMaxKey);
  FUZZ_CHECK(d->positions.size() <= kMrfMaxPositions);
  FUZZ_CHECK(ValidateBucketName(d->bucket).ok() && ValidateKey(d->key).ok());
  auto enc = d->Encode();
  FUZZ_CHECK(enc.ok());
  FUZZ_CHECK(*enc == in);
}

void CheckEncode(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  MrfEntry e;
  e.id = p.ConsumeRandomLengthString(40);
  e.bucket = p.ConsumeRandomLengthString(kMrfMaxBucket + 8);
  e.key = p.ConsumeRandomLengthString(kMrfMaxKey + 8);
  for (auto& b : e.version_id.b) b = p.ConsumeIntegral<uint8_t>();
  e.time_ns = p.ConsumeIntegral<int64_t>();
  const size_t n = p.ConsumeIntegralInRange<size_t>(0, kMrfMaxPositions + 2);
  for (size_t i = 0; i < n; ++i) e.positions.push_back(p.ConsumeIntegral<uint32_t>());
  const bool within = e.bucket.size() <= kMrfMaxBucket && e.key.size() <= kMrfMaxKey &&
                      e.positions.size() <= kMrfMaxPositions && ValidateBucketName(e.bucket).ok() &&
                      ValidateKey(e.key).ok();
  fuzz::CheckEncodes(e, within, kMaxMrfFileSize, Same);
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cairn::fuzz::RoundTripTarget(data, size, cairn::CheckDecode, cairn::CheckEncode);
}
