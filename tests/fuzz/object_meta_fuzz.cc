// ObjectMeta::Decode on bytes from disk (the `<name>=` metadata file of every object). A decoded
// value must satisfy what the readers rely on (K >= 1, K+M shards without overflow, a permutation
// as distribution, a block size a set can have, ...) and re-encode to bytes that decode to the same
// value.
// Coverage: libstore/format/object_meta.cc cairn::ObjectMeta::Decode(
#include <set>

#include "libstore/erasure/codec.h"
#include "libstore/format/object_meta.h"
#include "libstore/format/volume_format.h"
#include "tests/fuzz/fuzz_check.h"

namespace cairn {
namespace {

bool Same(const ObjectMeta& a, const ObjectMeta& b) {
  return a.key == b.key && a.version_id == b.version_id && a.mod_time_ns == b.mod_time_ns &&
         a.size == b.size && a.etag == b.etag && a.content_type == b.content_type &&
         a.user_meta == b.user_meta && a.k == b.k && a.m == b.m && a.block_size == b.block_size &&
         a.shard_index == b.shard_index && a.distribution == b.distribution &&
         a.data_id == b.data_id && a.shard_size == b.shard_size && a.inline_shard == b.inline_shard;
}

void Check(std::string_view in) {
  auto d = ObjectMeta::Decode(in);
  if (!d.ok()) {
    FUZZ_CHECK(d.status().code() == Code::kCorruption);
    return;
  }
  const ObjectMeta& m = *d;
  const uint64_t n = m.distribution.size();
  FUZZ_CHECK(m.k >= 1);
  FUZZ_CHECK(uint64_t(m.k) + m.m == n);
  FUZZ_CHECK(n <= uint64_t(kMaxShards));
  FUZZ_CHECK(m.shard_index < n);
  FUZZ_CHECK(m.block_size >= kMinBlockSize && m.block_size <= kMaxBlockSize);
  FUZZ_CHECK(std::set<uint8_t>(m.distribution.begin(), m.distribution.end()).size() == n);
  for (uint8_t p : m.distribution) FUZZ_CHECK(p < n);
  FUZZ_CHECK(!m.is_inline() || m.inline_shard.size() == m.shard_size);

  const std::string enc = m.Encode();
  FUZZ_CHECK(enc.size() == in.size());
  auto again = ObjectMeta::Decode(enc);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(Same(m, *again));
  FUZZ_CHECK(again->Encode() == enc);
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  cairn::Check(in);
  cairn::Check(cairn::fuzz::ResealedTail(in));
  return 0;
}
