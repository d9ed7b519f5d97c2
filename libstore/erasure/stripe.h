// Stripe arithmetic: how an object of `size` bytes maps onto blocks and shard files.
//
// The object is cut into blocks of block_size bytes (the last one shorter). Block b is split into
// K chunks of chunk_len(b) = ceil(block_len(b) / K) bytes (the last data chunk zero-padded), M
// parity chunks of the same length are computed, and shard i stores chunk i of every block, each
// followed by its XXH3-64 checksum (kChecksumLen bytes). All blocks but the last are full, so block
// b of a shard starts at b * (chunk_len(0) + kChecksumLen).
#pragma once

#include <cstdint>

namespace cairn {

constexpr uint64_t kChecksumLen = 8;

struct StripeLayout {
  uint64_t size = 0;
  uint64_t block_size = 1;
  uint32_t k = 1;

  // The chunk length of a block of block_len bytes cut into k chunks: the one place it is computed.
  static uint64_t ChunkLen(uint64_t block_len, uint32_t k) { return (block_len + k - 1) / k; }

  uint64_t num_blocks() const { return (size + block_size - 1) / block_size; }
  uint64_t block_len(uint64_t b) const {
    uint64_t start = b * block_size;
    return size - start < block_size ? size - start : block_size;
  }
  uint64_t chunk_len(uint64_t b) const { return ChunkLen(block_len(b), k); }
  uint64_t full_chunk_len() const { return ChunkLen(block_size, k); }
  uint64_t shard_offset(uint64_t b) const { return b * (full_chunk_len() + kChecksumLen); }
  uint64_t shard_size() const {
    uint64_t n = num_blocks();
    if (n == 0) return 0;
    return shard_offset(n - 1) + chunk_len(n - 1) + kChecksumLen;
  }
};

}  // namespace cairn
