// ShardHeader::Decode on the first 512 bytes of a shard file (`cairn decode/verify/repair` read
// shard sets that may come from anywhere). A decoded header must be self-consistent (K >= 1, K+M
// at most 32 without overflow, index < K+M, a block size) and re-encode to a header that decodes
// to the same value.
// Coverage: libstore/format/shard_file.cc cairn::ShardHeader::Decode(
#include "libstore/erasure/codec.h"
#include "libstore/format/shard_file.h"
#include "tests/fuzz/fuzz_check.h"

namespace cairn {
namespace {

bool Same(const ShardHeader& a, const ShardHeader& b) {
  return a.set_id == b.set_id && a.index == b.index && a.k == b.k && a.m == b.m &&
         a.block_size == b.block_size && a.file_size == b.file_size && a.file_hash == b.file_hash &&
         a.name == b.name && a.complete == b.complete;
}

void Check(std::string_view in) {
  auto d = ShardHeader::Decode(in);
  if (!d.ok()) {
    FUZZ_CHECK(d.status().code() == Code::kCorruption);
    return;
  }
  const ShardHeader& h = *d;
  FUZZ_CHECK(h.k >= 1);
  FUZZ_CHECK(uint64_t(h.k) + h.m <= uint64_t(kMaxShards));
  FUZZ_CHECK(h.index < h.k + h.m);
  FUZZ_CHECK(h.block_size > 0);
  FUZZ_CHECK(h.name.size() <= kShardNameMax);

  const std::string enc = h.Encode();
  FUZZ_CHECK(enc.size() == kShardHeaderSize);
  auto again = ShardHeader::Decode(enc);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(Same(h, *again));
  FUZZ_CHECK(again->Encode() == enc);
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  cairn::Check(in);
  cairn::Check(cairn::fuzz::Resealed(in, cairn::kShardHeaderSize - 8));
  return 0;
}
