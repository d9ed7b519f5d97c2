// ShardHeader::Decode on the first 512 bytes of a shard file (`cairn decode/verify/repair` read
// shard sets that may come from anywhere). A decoded header must be one an encode could write
// (Validate: K >= 1, K+M at most 32 without overflow, index < K+M, a block size of 4 KiB..64 MiB,
// a shard size that fits a file, a safe base name) and re-encode to exactly its 512 bytes. The
// other way round, a header built from the input that Validate accepts survives Encode and Decode.
// Coverage: libstore/format/shard_file.cc cairn::ShardHeader::Decode(
// Coverage: libstore/format/shard_file.cc cairn::ShardHeader::Validate(
#include <fuzzer/FuzzedDataProvider.h>

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
  FUZZ_CHECK(h.Validate().ok());
  FUZZ_CHECK(h.k >= 1);
  FUZZ_CHECK(uint64_t(h.k) + h.m <= kShardMaxShards);
  FUZZ_CHECK(h.index < h.k + h.m);
  FUZZ_CHECK(h.block_size >= kShardMinBlockSize && h.block_size <= kShardMaxBlockSize);
  // The name becomes a file name in the output directory.
  FUZZ_CHECK(CheckBaseName(h.name, kShardNameMax).ok());
  FUZZ_CHECK(!h.name.empty() && h.name != "." && h.name != "..");
  FUZZ_CHECK(h.name.find('/') == std::string::npos && h.name.find('\0') == std::string::npos);
  // The shard's size, computed without wrapping, fits in an off_t.
  const unsigned __int128 blocks = (h.file_size + uint64_t(h.block_size) - 1) / h.block_size;
  const unsigned __int128 chunk = (uint64_t(h.block_size) + h.k - 1) / h.k;
  FUZZ_CHECK(kShardHeaderSize + blocks * (chunk + kChecksumLen) <= uint64_t(INT64_MAX));

  FUZZ_CHECK(h.Encode() == in.substr(0, kShardHeaderSize));
}

// A header from the input's bytes: whatever Validate accepts round-trips.
void CheckEncode(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  ShardHeader h;
  p.ConsumeData(h.set_id.b, 16);
  h.index = p.ConsumeIntegralInRange<uint32_t>(0, 40);
  h.k = p.ConsumeIntegralInRange<uint32_t>(0, 40);
  h.m = p.ConsumeBool() ? p.ConsumeIntegral<uint32_t>() : p.ConsumeIntegralInRange<uint32_t>(0, 40);
  h.block_size = p.ConsumeBool() ? p.ConsumeIntegral<uint32_t>()
                                 : p.ConsumeIntegralInRange<uint32_t>(4000, 70u << 20);
  h.file_size = p.ConsumeIntegral<uint64_t>();
  h.file_hash.hi = p.ConsumeIntegral<uint64_t>();
  h.file_hash.lo = p.ConsumeIntegral<uint64_t>();
  h.complete = p.ConsumeBool();
  h.name = p.ConsumeRandomLengthString(300);
  if (!h.Validate().ok()) return;
  const std::string enc = h.Encode();
  FUZZ_CHECK(enc.size() == kShardHeaderSize);
  auto back = ShardHeader::Decode(enc);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(Same(h, *back));
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cairn::fuzz::RoundTripTarget(data, size, cairn::Check, cairn::CheckEncode,
                                      cairn::kShardHeaderSize - 8);
}
