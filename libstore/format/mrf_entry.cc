#include "libstore/format/mrf_entry.h"

#include "libstore/format/key_path.h"

namespace cairn {

Result<std::string> MrfEntry::Encode() const {
  if (bucket.size() > kMrfMaxBucket || key.size() > kMrfMaxKey ||
      positions.size() > kMrfMaxPositions) {
    return InvalidArgument("MRF entry: bucket, key or member list past the format's limits");
  }
  // Heal acts on the object an entry names: only a bucket and key the store could hold.
  if (!ValidateBucketName(bucket).ok() || !ValidateKey(key).ok()) {
    return InvalidArgument("MRF entry: not a valid bucket name and key");
  }
  std::string out;
  Writer w(&out);
  w.Bytes(kMrfMagic, 8);
  w.U32(kMrfVersion);
  w.Str(bucket);
  w.Str(key);
  w.Bytes(version_id.b, 16);
  w.I64(time_ns);
  w.U32(uint32_t(positions.size()));
  for (uint32_t p : positions) w.U32(p);
  Seal(&out);
  return out;
}

Result<MrfEntry> MrfEntry::Decode(std::string_view in) {
  if (in.size() > kMaxMrfFileSize) return Corruption("MRF entry: too large");
  Reader r{std::string_view()};
  if (!OpenSealed(in, kMrfMagic, kMrfVersion, &r)) {
    return Corruption("MRF entry: bad magic, version or checksum");
  }
  MrfEntry e;
  e.bucket = r.Str(kMrfMaxBucket);
  e.key = r.Str(kMrfMaxKey);
  r.Bytes(e.version_id.b, 16);
  e.time_ns = r.I64();
  uint32_t n = r.U32();
  if (!r.ok() || n > kMrfMaxPositions) return Corruption("MRF entry: malformed");
  for (uint32_t i = 0; i < n; ++i) e.positions.push_back(r.U32());
  if (!r.ok() || r.remaining() != 0) return Corruption("MRF entry: truncated or malformed");
  // A planted entry naming "..", ".cairn" or "" must not steer heal (or gc) outside the buckets.
  if (!ValidateBucketName(e.bucket).ok() || !ValidateKey(e.key).ok()) {
    return Corruption("MRF entry: not a valid bucket name and key");
  }
  return e;
}

}  // namespace cairn
