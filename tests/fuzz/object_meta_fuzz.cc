// ObjectMeta::Decode on bytes from disk (the `<name>=` metadata file of every object). A decoded
// value must satisfy what the readers rely on (K >= 1, K+M shards without overflow, a permutation
// as distribution, a block size a set can have, a delete marker empty and inline, ...) and
// re-encode to exactly the input. And for a value built from the input, Encode writes it exactly
// when Decode would accept its bytes (the store never commits a copy it cannot read back), with
// the same value read back.
// Coverage: libstore/format/object_meta.cc cairn::ObjectMeta::Decode(
// Coverage: libstore/format/object_meta.cc cairn::ObjectMeta::Validate(
#include <fuzzer/FuzzedDataProvider.h>

#include <set>

#include "libstore/format/object_meta.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/meta_bytes.h"

namespace cairn {
namespace {

bool Same(const ObjectMeta& a, const ObjectMeta& b) {
  return a.key == b.key && a.version_id == b.version_id && a.mod_time_ns == b.mod_time_ns &&
         a.size == b.size && a.etag == b.etag && a.content_type == b.content_type &&
         a.user_meta == b.user_meta && a.k == b.k && a.m == b.m && a.block_size == b.block_size &&
         a.shard_index == b.shard_index && a.distribution == b.distribution &&
         a.data_id == b.data_id && a.shard_size == b.shard_size &&
         a.inline_shard == b.inline_shard && a.delete_marker == b.delete_marker &&
         a.checksum == b.checksum && a.checksum.algorithm == b.checksum.algorithm &&
         a.checksum_type == b.checksum_type && a.checksum_parts == b.checksum_parts;
}

void CheckDecode(std::string_view in) {
  auto d = ObjectMeta::Decode(in);
  if (!d.ok()) {
    FUZZ_CHECK(d.status().code() == Code::kCorruption);
    return;
  }
  const ObjectMeta& m = *d;
  const uint64_t n = m.distribution.size();
  FUZZ_CHECK(m.k >= 1);
  FUZZ_CHECK(uint64_t(m.k) + m.m == n);
  FUZZ_CHECK(n <= kMetaMaxShards);
  FUZZ_CHECK(m.shard_index < n);
  FUZZ_CHECK(m.block_size >= kMetaMinBlockSize && m.block_size <= kMetaMaxBlockSize);
  FUZZ_CHECK(std::set<uint8_t>(m.distribution.begin(), m.distribution.end()).size() == n);
  for (uint8_t p : m.distribution) FUZZ_CHECK(p < n);
  FUZZ_CHECK(m.is_inline() ? m.inline_shard.size() == m.shard_size : m.inline_shard.empty());
  FUZZ_CHECK(!m.delete_marker || (m.is_inline() && m.size == 0 && m.shard_size == 0));
  FUZZ_CHECK(m.key.size() <= kMetaMaxKey && m.etag.size() <= kMetaMaxEtag &&
             m.content_type.size() <= kMetaMaxContentType);
  FUZZ_CHECK(m.user_meta.size() <= kMetaMaxUserEntries);
  if (m.checksum.algorithm == ChecksumAlgorithm::kNone) {
    FUZZ_CHECK(m.checksum.len == 0 && m.checksum_type == 0 && m.checksum_parts == 0);
  } else {
    FUZZ_CHECK(m.checksum.len == DigestLength(m.checksum.algorithm));
    FUZZ_CHECK(m.checksum_type == kMetaChecksumFullObject
                   ? m.checksum_parts == 0
                   : m.checksum_type == kMetaChecksumComposite && m.checksum_parts >= 1 &&
                         m.checksum_parts <= kMetaMaxChecksumParts);
    FUZZ_CHECK(!m.delete_marker);
  }

  FUZZ_CHECK(m.Validate().ok());
  auto enc = m.Encode();
  FUZZ_CHECK(enc.ok());
  FUZZ_CHECK(*enc == in);
}

// A value from the input, mostly near the limits; Encode's verdict must be Decode's.
void CheckEncode(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  ObjectMeta m;
  m.key = p.ConsumeRandomLengthString(kMetaMaxKey + 4);
  for (auto& b : m.version_id.b) b = p.ConsumeIntegral<uint8_t>();
  m.mod_time_ns = p.ConsumeIntegral<int64_t>();
  m.size = p.ConsumeIntegralInRange<uint64_t>(0, 3);
  m.etag = p.ConsumeRandomLengthString(kMetaMaxEtag + 4);
  m.content_type = p.ConsumeRandomLengthString(kMetaMaxContentType + 4);
  const size_t nmeta = p.ConsumeIntegralInRange<size_t>(0, 3);
  for (size_t i = 0; i < nmeta; ++i) {
    std::string k = p.ConsumeRandomLengthString(kMetaMaxUserKey + 4);
    m.user_meta.emplace_back(std::move(k), p.ConsumeRandomLengthString(kMetaMaxUserValue + 4));
  }
  const uint32_t n = p.ConsumeIntegralInRange<uint32_t>(0, kMetaMaxShards + 1);
  m.k = p.ConsumeBool() ? p.ConsumeIntegral<uint32_t>() : p.ConsumeIntegralInRange<uint32_t>(0, n);
  m.m = p.ConsumeBool() ? n - m.k : p.ConsumeIntegral<uint32_t>();
  const uint32_t sizes[] = {kMetaMinBlockSize, 1u << 20, kMetaMaxBlockSize};
  m.block_size =
      p.ConsumeBool() ? sizes[p.ConsumeIntegralInRange<int>(0, 2)] : p.ConsumeIntegral<uint32_t>();
  m.shard_index = p.ConsumeIntegralInRange<uint32_t>(0, n);
  for (uint32_t i = 0; i < n; ++i) {
    m.distribution.push_back(p.ConsumeBool() ? uint8_t(n - 1 - i) : p.ConsumeIntegral<uint8_t>());
  }
  if (p.ConsumeBool()) {
    for (auto& b : m.data_id.b) b = p.ConsumeIntegral<uint8_t>();
  }
  m.delete_marker = p.ConsumeBool();
  m.inline_shard = p.ConsumeRandomLengthString(64);
  m.shard_size = p.ConsumeBool() ? m.inline_shard.size() : p.ConsumeIntegral<uint64_t>();
  if (p.ConsumeBool()) {
    // Mostly well formed (an algorithm, its length, a type and part count that go together).
    const bool wild = p.ConsumeIntegralInRange<int>(0, 7) == 0;
    m.checksum.algorithm = ChecksumAlgorithm(p.ConsumeIntegralInRange<int>(0, wild ? 7 : 5));
    m.checksum.len = wild ? p.ConsumeIntegralInRange<uint8_t>(0, kMaxChecksumLen)
                          : uint8_t(DigestLength(m.checksum.algorithm));
    for (uint8_t i = 0; i < m.checksum.len; ++i) m.checksum.bytes[i] = p.ConsumeIntegral<uint8_t>();
    m.checksum_type = wild ? p.ConsumeIntegral<uint8_t>()
                           : uint8_t(p.ConsumeIntegralInRange<int>(kMetaChecksumFullObject,
                                                                   kMetaChecksumComposite));
    m.checksum_parts = wild ? p.ConsumeIntegral<uint32_t>()
                            : (m.checksum_type == kMetaChecksumComposite
                                   ? p.ConsumeIntegralInRange<uint32_t>(1, kMetaMaxChecksumParts)
                                   : 0);
    // Without an algorithm the section is not written at all (version 1), so there is nothing
    // for the other fields to disagree with.
    if (m.checksum.algorithm == ChecksumAlgorithm::kNone) {
      m.checksum.len = 0;
      m.checksum_type = 0;
      m.checksum_parts = 0;
    }
  }

  const std::string bytes = fuzz::MetaBytes(m);
  auto decoded = ObjectMeta::Decode(bytes);
  auto enc = m.Encode();
  FUZZ_CHECK(m.Validate().ok() == enc.ok());
  FUZZ_CHECK(enc.ok() == decoded.ok());
  if (!enc.ok()) {
    FUZZ_CHECK(enc.status().code() == Code::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(*enc == bytes);
  FUZZ_CHECK(Same(*decoded, m));
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cairn::fuzz::RoundTripTarget(data, size, cairn::CheckDecode, cairn::CheckEncode);
}
