// A bucket's record, `<bucket>/bucket.meta` on every member: what makes a directory a bucket.
// Byte layout in docs/format.md ("Bucket record").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn {

constexpr char kBucketMetaMagic[8] = {'C', 'A', 'I', 'R', 'N', 'B', 'K', 'T'};
constexpr uint32_t kBucketMetaVersion = 1;
constexpr const char* kBucketMetaName = "bucket.meta";
// magic, version, created, checksum: the file is exactly this long.
constexpr size_t kBucketMetaSize = 8 + 4 + 8 + 8;

struct BucketMeta {
  int64_t created_ns = 0;  // creation time, nanoseconds since the epoch (never negative)

  // The file's bytes. kInvalidArgument for what Decode would refuse (a negative time), so a
  // record that cannot be read back is never written.
  Result<std::string> Encode() const;
  // kCorruption unless bytes are exactly one record: magic, version, checksum, a time >= 0.
  static Result<BucketMeta> Decode(std::string_view bytes);
  // Decode, or else the creation time as decimal text (digits only, fits an i64), which is what
  // cairn wrote before the record had a format; then *legacy is set (may be null). This is what
  // identifies a bucket directory everywhere (listing, verify, heal, init --force); heal rewrites
  // a legacy file as a record. Encode never writes the legacy form.
  static Result<BucketMeta> DecodeOrLegacy(std::string_view bytes, bool* legacy);
};

// "<bucket>/bucket.meta".
std::string BucketMetaPath(std::string_view bucket);

}  // namespace cairn
