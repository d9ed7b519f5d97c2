// Block framing, the one place it is written and checked: every chunk of a shard (volume-set shard
// files, inline shards inside object metadata, standalone shard files) is stored as its bytes
// followed by their XXH3-64, kChecksumLen bytes little-endian. Volume sets use seed 0; shard files
// seed each chunk with (set id, shard index, block number) (ShardBlockSum in shard_file.h), so a
// chunk copied from elsewhere fails like bitrot. Layout in docs/format.md ("Stripes and shard
// framing"); chunk lengths come from StripeLayout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "libstore/common/status.h"
#include "libstore/erasure/stripe.h"
#include "libstore/volume/volume.h"

namespace cairn {

// The checksum stored after a chunk of len bytes.
uint64_t ChunkSum(const void* chunk, size_t len, uint64_t seed);

// Appends chunk and its (already computed) sum to a file in one write.
Status AppendFramed(WritableFile& f, const void* chunk, size_t len, uint64_t sum);
// Appends chunk and its sum to an in-memory shard.
void AppendFramed(std::string* out, const void* chunk, size_t len, uint64_t sum);

enum class ChunkState {
  kGood,        // read whole, checksum matches
  kBad,         // short (the file ends inside it) or the checksum does not match
  kUnreadable,  // the read itself failed: the medium's state is unknown
};

struct ChunkRead {
  ChunkState state = ChunkState::kUnreadable;
  uint64_t bytes = 0;  // bytes the read returned
  Status error;        // why, for kUnreadable
};

// Whether the framed chunk in memory at `framed` (len data bytes, then their sum) is whole: its
// stored sum is that of its bytes.
bool FramedGood(const uint8_t* framed, size_t len, uint64_t seed);

// Reads the framed chunk of len data bytes at file offset off into buf, which must hold
// len + kChecksumLen bytes, and checks it.
ChunkRead ReadFramed(ReadableFile& f, uint64_t off, size_t len, uint64_t seed, uint8_t* buf);

}  // namespace cairn
