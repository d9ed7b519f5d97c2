// Standalone shard files (`cairn encode`): a fixed 512-byte header, then the shard's blocks, each
// chunk followed by its XXH3-64 checksum seeded with (set id, shard index, block number), so a
// block copied from another shard, another offset or another encode is caught like bitrot. Any K of
// the K+M files rebuild the original; no manifest is needed. Byte layout in docs/format.md
// ("Shard files").
//
// A shard file is untrusted input (it may come from anywhere): Decode accepts only headers that
// encode can write, so every field is within the limits below once decoded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "libstore/common/hash.h"
#include "libstore/common/status.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/encoding.h"

namespace cairn {

constexpr char kShardMagic[8] = {'C', 'A', 'I', 'R', 'N', 'S', 'H', 'D'};
constexpr uint32_t kShardVersion = 1;
constexpr uint64_t kShardHeaderSize = 512;
constexpr uint32_t kShardFlagComplete = 1;  // the header was finished: size and hash are final
constexpr uint32_t kShardKnownFlags = kShardFlagComplete;
constexpr uint32_t kShardMaxShards = 32;            // K + M
constexpr uint32_t kShardMinBlockSize = 4096;       // 4 KiB
constexpr uint32_t kShardMaxBlockSize = 64u << 20;  // 64 MiB
constexpr uint64_t kShardMaxFileSize = INT64_MAX;   // what a file (off_t) can hold
// The longest name: its shard file names ("<name>.32-of-32.cairn", 15 more bytes) must fit in the
// 255 bytes a file name may have.
constexpr size_t kShardNameMax = 240;

// The one rule for a file name that comes from data or that cairn derives itself (a shard header's
// name, decode's and get's default output names, encode's --name): 1 to max_len bytes, not "." or
// "..", and no '/', NUL or control character (bytes 0x01-0x1f and 0x7f). Such a name stays inside
// the directory it is created in. kInvalidArgument saying why otherwise.
Status CheckBaseName(std::string_view name, size_t max_len = 255);

struct ShardHeader {
  Uuid set_id;         // shared by the K+M shards of one encode
  uint32_t index = 0;  // 0-based; data shards first
  uint32_t k = 1, m = 0;
  uint32_t block_size = kShardMinBlockSize;
  uint64_t file_size = 0;
  Hash128 file_hash;  // XXH3-128 of the whole original
  std::string name;   // the original's base name (CheckBaseName, at most kShardNameMax bytes)
  bool complete = false;

  uint32_t n() const { return k + m; }
  StripeLayout layout() const { return StripeLayout{file_size, block_size, k}; }
  // The full length of a healthy shard file (fits in an off_t for any header Decode accepts).
  uint64_t expected_size() const { return kShardHeaderSize + layout().shard_size(); }
  // Every field except the index: headers of one encode agree on these.
  bool SameEncode(const ShardHeader& o) const;

  // Exactly kShardHeaderSize bytes. The fields must be valid (Validate); the name is cut to
  // kShardNameMax bytes.
  std::string Encode() const;
  // kCorruption on a bad magic, version, checksum, flag, padding or field (Validate).
  static Result<ShardHeader> Decode(std::string_view bytes);
  // kCorruption unless every field is one encode can write: K >= 1, K + M <= 32 (no overflow),
  // index < K + M, block size 4 KiB..64 MiB, a file size whose shard size fits in an off_t, and a
  // safe name (CheckBaseName).
  Status Validate() const;
};

// The checksum seed of chunk `block` of shard `index`: XXH3-64 (seed 0) of the 28 bytes
// set id ‖ index (u32) ‖ block (u64).
uint64_t ShardBlockSeed(const Uuid& set_id, uint32_t index, uint64_t block);
// The checksum stored after that chunk: ChunkSum(chunk, len, ShardBlockSeed(...)).
uint64_t ShardBlockSum(const Uuid& set_id, uint32_t index, uint64_t block, const void* chunk,
                       size_t len);

// "<name>.<index+1>-of-<n>.cairn", the index zero-padded to the width of n.
std::string ShardFileName(const std::string& name, uint32_t index, uint32_t n);

}  // namespace cairn
