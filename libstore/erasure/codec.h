// Reed-Solomon erasure codec over ISA-L with a Cauchy matrix: any K of the K+M shards rebuild the
// rest. codec.cc is the only file in libstore that includes ISA-L.
//
// Thread safety: an ErasureCodec is immutable after Create() except for an internal, locked cache
// of decode tables per erasure pattern; Encode and Reconstruct may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "libstore/common/status.h"

namespace cairn {

constexpr int kMaxShards = 32;

class ErasureCodec {
 public:
  virtual ~ErasureCodec() = default;
  // K >= 1, M >= 0, K + M <= kMaxShards; anything else is kInvalidArgument.
  static Result<std::unique_ptr<ErasureCodec>> Create(int k, int m);

  virtual int k() const = 0;
  virtual int m() const = 0;

  // Computes M parity shards of len bytes from K data shards of len bytes. With M == 0 it does
  // nothing. Buffers may have any alignment; they must not overlap.
  virtual void Encode(size_t len, const uint8_t* const* data, uint8_t* const* parity) const = 0;

  // shards: K+M pointers to len-byte buffers (data first, then parity). present[i] says whether
  // shards[i] holds good bytes. Every shard with present[i] == false and want[i] == true is
  // rewritten with its true content (want may be null: rebuild all missing). Needs at least K
  // present shards, else kDataLoss and nothing is written.
  virtual Status Reconstruct(size_t len, uint8_t* const* shards, const bool* present,
                             const bool* want) const = 0;
};

}  // namespace cairn
