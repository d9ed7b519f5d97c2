// Standalone shard files (`cairn encode`): a fixed 512-byte header, then the shard's blocks, each
// chunk followed by its XXH3-64 checksum seeded with (set id, shard index, block number), so a block
// copied from another shard, another offset or another encode is caught like bitrot. Any K of the
// K+M files rebuild the original; no manifest is needed. Byte layout in docs/format.md
// ("Shard files").
#pragma once

#include <cstdint>
#include <string>

#include "libstore/common/hash.h"
#include "libstore/common/status.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/encoding.h"

namespace cairn {

constexpr char kShardMagic[8] = {'C', 'A', 'I', 'R', 'N', 'S', 'H', 'D'};
constexpr uint32_t kShardVersion = 1;
constexpr uint64_t kShardHeaderSize = 512;
constexpr size_t kShardNameMax = 255;
constexpr uint32_t kShardFlagComplete = 1;  // the header was finished: size and hash are final

struct ShardHeader {
  Uuid set_id;             // shared by the K+M shards of one encode
  uint32_t index = 0;      // 0-based; data shards first
  uint32_t k = 1, m = 0;
  uint32_t block_size = 0;
  uint64_t file_size = 0;
  Hash128 file_hash;       // XXH3-128 of the whole original
  std::string name;        // the original's base name (at most 255 bytes)
  bool complete = false;

  StripeLayout layout() const { return StripeLayout{file_size, block_size, k}; }
  // The full length of a healthy shard file.
  uint64_t expected_size() const { return kShardHeaderSize + layout().shard_size(); }

  // Exactly kShardHeaderSize bytes.
  std::string Encode() const;
  // kCorruption on a bad magic, version, checksum or field.
  static Result<ShardHeader> Decode(std::string_view bytes);
};

// The checksum stored after chunk `block` of shard `index`.
uint64_t ShardBlockSum(const Uuid& set_id, uint32_t index, uint64_t block, const void* chunk,
                       size_t len);

// "<name>.<index+1>-of-<n>.cairn", the index zero-padded to the width of n.
std::string ShardFileName(const std::string& name, uint32_t index, uint32_t n);

}  // namespace cairn
