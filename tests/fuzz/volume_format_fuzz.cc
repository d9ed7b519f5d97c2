// VolumeFormat::Decode on bytes from disk (`.cairn/format` of every member). A decoded value must
// be self-consistent (K >= 1, K+M members without overflow, its position inside the set naming
// itself, block size and inline limit as init writes them) and re-encode to exactly the bytes it
// came from. The same bytes go to DecodeReplacedRecord (`.cairn/replaced`): a time >= 0 that
// re-encodes to them.
// Coverage: libstore/format/volume_format.cc cairn::VolumeFormat::Decode(
// Coverage: libstore/format/volume_format.cc cairn::DecodeReplacedRecord(
#include "libstore/erasure/codec.h"
#include "libstore/format/volume_format.h"
#include "tests/fuzz/fuzz_check.h"

namespace cairn {
namespace {

void CheckReplaced(std::string_view in) {
  auto t = DecodeReplacedRecord(in);
  if (!t.ok()) {
    FUZZ_CHECK(t.status().code() == Code::kCorruption);
    return;
  }
  FUZZ_CHECK(*t >= 0);
  FUZZ_CHECK(EncodeReplacedRecord(*t) == in);
}

void Check(std::string_view in) {
  CheckReplaced(in);
  auto d = VolumeFormat::Decode(in);
  if (!d.ok()) {
    FUZZ_CHECK(d.status().code() == Code::kCorruption);
    return;
  }
  const VolumeFormat& f = *d;
  const uint64_t n = f.members.size();
  FUZZ_CHECK(f.k >= 1);
  FUZZ_CHECK(uint64_t(f.k) + f.m == n);
  FUZZ_CHECK(n <= uint64_t(kMaxShards));
  FUZZ_CHECK(f.position < n);
  FUZZ_CHECK(f.members[f.position].volume_id == f.volume_id);
  // What init writes: a PUT sizes its buffers by these.
  FUZZ_CHECK(f.block_size >= kMinBlockSize && f.block_size <= kMaxBlockSize);
  FUZZ_CHECK(f.block_size % 64 == 0);
  FUZZ_CHECK(f.inline_limit <= kMaxInlineLimit);

  // Every field is kept: the encoding of the decoded value is the input itself.
  FUZZ_CHECK(f.Encode() == in);
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  cairn::Check(in);
  cairn::Check(cairn::fuzz::ResealedTail(in));
  return 0;
}
