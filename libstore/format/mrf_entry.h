// An MRF ("most recently failed") journal entry: one small file in .cairn/mrf/ on every member,
// naming an object that missed a write on some members (a PUT or DELETE that succeeded without
// them) or served a bad shard (a degraded GET). Heal drains the journal. Byte layout in
// docs/format.md ("MRF journal entry").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/common/status.h"
#include "libstore/format/encoding.h"

namespace cairn {

constexpr char kMrfMagic[8] = {'C', 'A', 'I', 'R', 'N', 'M', 'R', 'F'};
constexpr uint32_t kMrfVersion = 1;
constexpr size_t kMaxMrfFileSize = 1 << 16;  // what readers read of an entry
constexpr size_t kMrfMaxBucket = 63;
constexpr size_t kMrfMaxKey = 1024;
constexpr size_t kMrfMaxPositions = 32;

struct MrfEntry {
  std::string id;  // the file name in .cairn/mrf (not part of the bytes)
  std::string bucket, key;
  Uuid version_id;                  // the version written, deleted or read
  std::vector<uint32_t> positions;  // members that missed the write or served a bad shard
  int64_t time_ns = 0;

  // The file's bytes; kInvalidArgument when a field is past the format's limits or the bucket
  // and key are not a valid bucket name and key (key_path.h): what Decode would refuse.
  Result<std::string> Encode() const;
  // Every field but id; kCorruption for anything that is not a whole, valid entry (a valid
  // bucket name and key included).
  static Result<MrfEntry> Decode(std::string_view bytes);
};

}  // namespace cairn
