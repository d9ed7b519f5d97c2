// Object metadata, one copy per volume (where: key_path.h). Byte layout in docs/format.md
// ("Object metadata file"). Small objects carry their shard inline, so they need no shard file.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "libstore/common/status.h"
#include "libstore/format/encoding.h"

namespace cairn {

constexpr char kObjectMetaMagic[8] = {'C', 'A', 'I', 'R', 'N', 'O', 'B', 'J'};
constexpr uint32_t kObjectMetaVersion = 1;
constexpr size_t kMaxMetaFileSize = 16 << 20;
constexpr uint32_t kMetaFlagInline = 1;

struct ObjectMeta {
  std::string key;            // the object key (without bucket)
  Uuid version_id;            // one per PUT; every volume's copy of one PUT carries the same
  int64_t mod_time_ns = 0;
  uint64_t size = 0;
  std::string etag;           // hex MD5 of the body, or "x" + hex XXH3-128 with --etag fast
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  uint32_t k = 1, m = 0;
  uint32_t block_size = 0;
  uint32_t shard_index = 0;   // which shard (0..K+M-1) this volume holds
  std::vector<uint8_t> distribution;  // distribution[shard] = volume position holding it
  Uuid data_id;               // names the shard file (key_path.h); zero when inline
  uint64_t shard_size = 0;    // framed shard bytes (chunks + checksums)
  std::string inline_shard;   // framed shard bytes when inline

  bool is_inline() const { return data_id.IsZero(); }

  std::string Encode() const;
  static Result<ObjectMeta> Decode(std::string_view bytes);
};

}  // namespace cairn
