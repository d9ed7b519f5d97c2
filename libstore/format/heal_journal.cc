#include "libstore/format/heal_journal.h"

#include "libstore/format/encoding.h"
#include "libstore/format/key_path.h"

namespace cairn {
namespace {

constexpr size_t kMaxBucket = 63, kMaxKey = 1024;

// The counts in their on-disk order.
template <typename C, typename F>
void ForEachCount(C& c, F f) {
  for (auto* v :
       {&c.scanned, &c.healthy, &c.degraded, &c.unrecoverable, &c.healed, &c.still_degraded,
        &c.unrecoverable_after, &c.removed, &c.deletes_finished, &c.bytes_read, &c.bytes_written}) {
    f(*v);
  }
}

// What a journal may name: each bucket empty or a valid bucket name, the key empty or a valid
// key (with a bucket), the prefix at most a key's length. Encode refuses (kInvalidArgument) and
// Decode rejects (kCorruption) anything else, so a journal is never written that cannot be read.
Status CheckNames(const HealJournal& j) {
  if (j.scope_bucket.size() > kMaxBucket || j.bucket.size() > kMaxBucket ||
      j.scope_prefix.size() > kMaxKey || j.key.size() > kMaxKey) {
    return InvalidArgument("heal journal: bucket or key past the format's limits");
  }
  for (const std::string* b : {&j.scope_bucket, &j.bucket}) {
    if (!b->empty() && !ValidateBucketName(*b).ok()) {
      return InvalidArgument("heal journal: invalid bucket name");
    }
  }
  if (!j.key.empty() && (j.bucket.empty() || !ValidateKey(j.key).ok())) {
    return InvalidArgument("heal journal: invalid key");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> HealJournal::Encode() const {
  RETURN_IF_ERROR(CheckNames(*this));
  std::string out;
  Writer w(&out);
  w.Bytes(kHealJournalMagic, 8);
  w.U32(kHealJournalVersion);
  w.Str(scope_bucket);
  w.Str(scope_prefix);
  w.Str(bucket);
  w.Str(key);
  w.I64(started_ns);
  w.I64(updated_ns);
  Counts c = counts;
  ForEachCount(c, [&](uint64_t& v) { w.U64(v); });
  Seal(&out);
  return out;
}

Result<HealJournal> HealJournal::Decode(std::string_view in) {
  if (in.size() > kMaxHealJournalSize) return Corruption("heal journal: too large");
  Reader r{std::string_view()};
  if (!OpenSealed(in, kHealJournalMagic, kHealJournalVersion, &r)) {
    return Corruption("heal journal: bad magic, version or checksum");
  }
  HealJournal j;
  j.scope_bucket = r.Str(kMaxBucket);
  j.scope_prefix = r.Str(kMaxKey);
  j.bucket = r.Str(kMaxBucket);
  j.key = r.Str(kMaxKey);
  j.started_ns = r.I64();
  j.updated_ns = r.I64();
  ForEachCount(j.counts, [&](uint64_t& v) { v = r.U64(); });
  if (!r.ok() || r.remaining() != 0) return Corruption("heal journal: truncated or malformed");
  if (Status names = CheckNames(j); !names.ok()) return Corruption(names.message());
  return j;
}

}  // namespace cairn
