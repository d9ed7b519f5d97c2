// HealJournal::Decode on .cairn/heal/state (any member's, so any bytes). A decoded journal keeps
// the format's limits, names valid buckets and keys (or none), and re-encodes to exactly the
// input; a journal built from the input encodes exactly when its names are within the limits and
// valid, and then decodes to the same value.
// Coverage: libstore/format/heal_journal.cc cairn::HealJournal::Decode(
// Coverage: libstore/format/heal_journal.cc cairn::HealJournal::Encode(
#include <fuzzer/FuzzedDataProvider.h>

#include "libstore/format/heal_journal.h"
#include "libstore/format/key_path.h"
#include "tests/fuzz/fuzz_check.h"

namespace cairn {
namespace {

constexpr size_t kMaxBucket = 63, kMaxKey = 1024;  // docs/format.md ("Heal journal")

std::vector<uint64_t> Counts(const HealJournal::Counts& c) {
  return {c.scanned,
          c.healthy,
          c.degraded,
          c.unrecoverable,
          c.healed,
          c.still_degraded,
          c.unrecoverable_after,
          c.removed,
          c.deletes_finished,
          c.bytes_read,
          c.bytes_written};
}

// Empty, or a valid bucket name / key.
bool NoneOrBucket(const std::string& b) { return b.empty() || ValidateBucketName(b).ok(); }
bool Valid(const HealJournal& j) {
  return NoneOrBucket(j.scope_bucket) && NoneOrBucket(j.bucket) &&
         (j.key.empty() || (!j.bucket.empty() && ValidateKey(j.key).ok()));
}

bool Same(const HealJournal& a, const HealJournal& b) {
  return a.scope_bucket == b.scope_bucket && a.scope_prefix == b.scope_prefix &&
         a.bucket == b.bucket && a.key == b.key && a.started_ns == b.started_ns &&
         a.updated_ns == b.updated_ns && Counts(a.counts) == Counts(b.counts);
}

void CheckDecode(std::string_view in) {
  auto d = HealJournal::Decode(in);
  if (!d.ok()) {
    FUZZ_CHECK(d.status().code() == Code::kCorruption);
    return;
  }
  FUZZ_CHECK(d->scope_bucket.size() <= kMaxBucket && d->bucket.size() <= kMaxBucket);
  FUZZ_CHECK(d->scope_prefix.size() <= kMaxKey && d->key.size() <= kMaxKey);
  FUZZ_CHECK(Valid(*d));
  auto enc = d->Encode();
  FUZZ_CHECK(enc.ok());
  FUZZ_CHECK(*enc == in);
}

void CheckEncode(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  HealJournal j;
  j.scope_bucket = p.ConsumeRandomLengthString(kMaxBucket + 8);
  j.scope_prefix = p.ConsumeRandomLengthString(kMaxKey + 8);
  j.bucket = p.ConsumeRandomLengthString(kMaxBucket + 8);
  j.key = p.ConsumeRandomLengthString(kMaxKey + 8);
  j.started_ns = p.ConsumeIntegral<int64_t>();
  j.updated_ns = p.ConsumeIntegral<int64_t>();
  auto& c = j.counts;
  for (uint64_t* v :
       {&c.scanned, &c.healthy, &c.degraded, &c.unrecoverable, &c.healed, &c.still_degraded,
        &c.unrecoverable_after, &c.removed, &c.deletes_finished, &c.bytes_read, &c.bytes_written}) {
    *v = p.ConsumeIntegral<uint64_t>();
  }
  const bool within = j.scope_bucket.size() <= kMaxBucket && j.bucket.size() <= kMaxBucket &&
                      j.scope_prefix.size() <= kMaxKey && j.key.size() <= kMaxKey && Valid(j);
  fuzz::CheckEncodes(j, within, kMaxHealJournalSize, Same);
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cairn::fuzz::RoundTripTarget(data, size, cairn::CheckDecode, cairn::CheckEncode);
}
