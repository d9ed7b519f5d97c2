#include "libstore/format/object_meta.h"

#include <cstring>

#include "libstore/common/hash.h"
#include "libstore/erasure/stripe.h"

namespace cairn {
namespace {

// The checksum section stores ChecksumAlgorithm's values as bytes (docs/format.md): they are
// part of the format.
static_assert(int(ChecksumAlgorithm::kCrc32) == 1 && int(ChecksumAlgorithm::kCrc32c) == 2 &&
              int(ChecksumAlgorithm::kCrc64Nvme) == 3 && int(ChecksumAlgorithm::kSha1) == 4 &&
              int(ChecksumAlgorithm::kSha256) == 5 &&
              kLastChecksumAlgorithm == ChecksumAlgorithm::kSha256);

// The checks shared by Validate and Decode, on fields that both see. Returns "" when they hold,
// else what is wrong.
std::string Inconsistency(const ObjectMeta& m) {
  const size_t nd = m.distribution.size();
  if (nd > kMetaMaxShards) return "more than " + std::to_string(kMetaMaxShards) + " shards";
  if (m.k < 1 || m.k > nd || m.m != nd - m.k) return "K+M does not match the distribution";
  if (m.shard_index >= nd) return "shard index out of range";
  if (m.block_size < kMetaMinBlockSize || m.block_size > kMetaMaxBlockSize) {
    return "block size out of range";
  }
  // A permutation of the member positions, as every PUT writes it.
  uint64_t seen = 0;
  for (uint8_t d : m.distribution) {
    if (d >= nd || (seen & (uint64_t(1) << d)) != 0) return "distribution is not a permutation";
    seen |= uint64_t(1) << d;
  }
  if (m.is_inline() ? m.inline_shard.size() != m.shard_size : !m.inline_shard.empty()) {
    return "inline shard does not match the shard size";
  }
  if (m.delete_marker && (!m.is_inline() || m.size != 0 || m.shard_size != 0)) {
    return "a delete marker must be empty and inline";
  }
  if (m.checksum.algorithm == ChecksumAlgorithm::kNone) {
    if (m.checksum.len != 0 || m.checksum_type != 0 || m.checksum_parts != 0) {
      return "a checksum type or length without an algorithm";
    }
  } else {
    if (int(m.checksum.algorithm) < 0 || m.checksum.algorithm > kLastChecksumAlgorithm) {
      return "unknown checksum algorithm";
    }
    if (m.checksum.len != DigestLength(m.checksum.algorithm)) {
      return "checksum length does not match its algorithm";
    }
    if (m.checksum_type == kMetaChecksumFullObject ? m.checksum_parts != 0
        : m.checksum_type == kMetaChecksumComposite
            ? m.checksum_parts < 1 || m.checksum_parts > kMetaMaxChecksumParts
            : true) {
      return "checksum type or part count out of range";
    }
    if (m.delete_marker) return "a delete marker has no checksum";
  }
  if (m.is_multipart()) {
    if (m.parts.size() > kMetaMaxParts) return "more than " + std::to_string(kMetaMaxParts) + " parts";
    if (m.is_inline() || m.delete_marker) return "a multipart object is neither inline nor a marker";
    uint64_t size = 0, shard_size = 0;
    uint32_t last = 0;
    for (const ObjectPart& p : m.parts) {
      if (p.number <= last || p.number > kMetaMaxParts) return "part numbers out of order or range";
      last = p.number;
      if (p.data_id.IsZero()) return "a part without a data id";
      if (p.shard_size != StripeLayout{p.size, m.block_size, m.k}.shard_size()) {
        return "a part's shard size does not match its size";
      }
      const uint8_t want = m.checksum.algorithm == ChecksumAlgorithm::kNone
                               ? 0
                               : uint8_t(DigestLength(m.checksum.algorithm));
      if (p.checksum.len != want ||
          (want != 0 && p.checksum.algorithm != m.checksum.algorithm) ||
          (want == 0 && p.checksum.algorithm != ChecksumAlgorithm::kNone)) {
        return "a part's checksum does not match the object's algorithm";
      }
      size += p.size;
      shard_size += p.shard_size;
    }
    if (size != m.size) return "the parts' sizes do not add up to the size";
    if (shard_size != m.shard_size) return "the parts' shard sizes do not add up to the shard size";
  }
  return "";
}

}  // namespace

bool ObjectPart::operator==(const ObjectPart& o) const {
  return number == o.number && size == o.size && data_id == o.data_id &&
         shard_size == o.shard_size && md5 == o.md5 && checksum == o.checksum;
}

Status ObjectMeta::Validate() const {
  auto over = [](const char* what, size_t len, size_t max) {
    return InvalidArgument(std::string(what) + " is " + std::to_string(len) +
                           " bytes, the format allows " + std::to_string(max));
  };
  if (key.size() > kMetaMaxKey) return over("object key", key.size(), kMetaMaxKey);
  if (etag.size() > kMetaMaxEtag) return over("etag", etag.size(), kMetaMaxEtag);
  if (content_type.size() > kMetaMaxContentType) {
    return over("content type", content_type.size(), kMetaMaxContentType);
  }
  if (user_meta.size() > kMetaMaxUserEntries) {
    return InvalidArgument(std::to_string(user_meta.size()) +
                           " user metadata entries, the format allows " +
                           std::to_string(kMetaMaxUserEntries));
  }
  for (const auto& [k2, v] : user_meta) {
    if (k2.size() > kMetaMaxUserKey) return over("a user metadata key", k2.size(), kMetaMaxUserKey);
    if (v.size() > kMetaMaxUserValue) {
      return over("a user metadata value", v.size(), kMetaMaxUserValue);
    }
  }
  if (std::string why = Inconsistency(*this); !why.empty()) {
    return InvalidArgument("object metadata: " + why);
  }
  return Status::Ok();
}

Result<std::string> ObjectMeta::Encode() const {
  RETURN_IF_ERROR(Validate());
  std::string out;
  out.reserve(256 + key.size() + inline_shard.size());
  Writer w(&out);
  const bool has_checksum = checksum.algorithm != ChecksumAlgorithm::kNone;
  w.Bytes(kObjectMetaMagic, 8);
  const uint32_t version = is_multipart() ? kObjectMetaVersion3
                           : has_checksum ? kObjectMetaVersion2
                                          : kObjectMetaVersion1;
  w.U32(version);
  w.U32((is_inline() ? kMetaFlagInline : 0) | (delete_marker ? kMetaFlagDeleteMarker : 0));
  w.Str(key);
  w.Bytes(version_id.b, 16);
  w.I64(mod_time_ns);
  w.U64(size);
  w.Str(etag);
  w.Str(content_type);
  w.U32(uint32_t(user_meta.size()));
  for (const auto& [k2, v] : user_meta) {
    w.Str(k2);
    w.Str(v);
  }
  w.U32(k);
  w.U32(m);
  w.U32(block_size);
  w.U32(shard_index);
  w.U32(uint32_t(distribution.size()));
  w.Bytes(distribution.data(), distribution.size());
  w.Bytes(data_id.b, 16);
  w.U64(shard_size);
  w.Str(inline_shard);
  if (version >= kObjectMetaVersion2) {
    w.U8(uint8_t(checksum.algorithm));
    w.U8(checksum_type);
    w.U32(checksum_parts);
    w.U8(checksum.len);
    w.Bytes(checksum.bytes.data(), checksum.len);
  }
  if (version == kObjectMetaVersion3) {
    w.U32(uint32_t(parts.size()));
    for (const ObjectPart& p : parts) {
      w.U32(p.number);
      w.U64(p.size);
      w.Bytes(p.data_id.b, 16);
      w.U64(p.shard_size);
      w.Bytes(p.md5.data(), 16);
      w.U8(p.checksum.len);
      w.Bytes(p.checksum.bytes.data(), p.checksum.len);
    }
  }
  w.U64(Xxh3_64(out.data(), out.size()));
  if (out.size() > kMaxMetaFileSize) {
    return InvalidArgument("object metadata would be " + std::to_string(out.size()) +
                           " bytes, the format allows " + std::to_string(kMaxMetaFileSize));
  }
  return out;
}

Result<ObjectMeta> ObjectMeta::Decode(std::string_view bytes) {
  if (bytes.size() < 8 + 4 + 8 || std::memcmp(bytes.data(), kObjectMetaMagic, 8) != 0) {
    return Corruption("object metadata: bad magic");
  }
  if (bytes.size() > kMaxMetaFileSize) return Corruption("object metadata: file too large");
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (Xxh3_64(bytes.data(), bytes.size() - 8) != stored) {
    return Corruption("object metadata: checksum mismatch");
  }
  Reader r(bytes.substr(0, bytes.size() - 8));
  ObjectMeta m;
  char magic[8];
  r.Bytes(magic, 8);
  uint32_t version = r.U32();
  if (version != kObjectMetaVersion1 && version != kObjectMetaVersion2 &&
      version != kObjectMetaVersion3) {
    return Corruption("object metadata: unsupported version " + std::to_string(version));
  }
  uint32_t flags = r.U32();
  if ((flags & ~(kMetaFlagInline | kMetaFlagDeleteMarker)) != 0) {
    return Corruption("object metadata: unknown flags");
  }
  m.delete_marker = (flags & kMetaFlagDeleteMarker) != 0;
  m.key = r.Str(kMetaMaxKey);
  r.Bytes(m.version_id.b, 16);
  m.mod_time_ns = r.I64();
  m.size = r.U64();
  m.etag = r.Str(kMetaMaxEtag);
  m.content_type = r.Str(kMetaMaxContentType);
  uint32_t nmeta = r.U32();
  if (nmeta > kMetaMaxUserEntries) {
    return Corruption("object metadata: too many user metadata entries");
  }
  for (uint32_t i = 0; i < nmeta && r.ok(); ++i) {
    std::string k2 = r.Str(kMetaMaxUserKey);
    std::string v = r.Str(kMetaMaxUserValue);
    m.user_meta.emplace_back(std::move(k2), std::move(v));
  }
  m.k = r.U32();
  m.m = r.U32();
  m.block_size = r.U32();
  m.shard_index = r.U32();
  uint32_t nd = r.U32();
  if (!r.ok() || nd > kMetaMaxShards) return Corruption("object metadata: malformed");
  m.distribution.resize(nd);
  r.Bytes(m.distribution.data(), nd);
  r.Bytes(m.data_id.b, 16);
  m.shard_size = r.U64();
  m.inline_shard = r.Str(kMaxMetaFileSize);
  if (version >= kObjectMetaVersion2) {
    // Only an object with a checksum is written as version 2 (one encoding per value); version 3
    // always has the section, algorithm 0 saying none.
    const uint8_t alg = r.U8();
    if (!r.ok() || (alg == 0 && version == kObjectMetaVersion2) ||
        alg > uint8_t(kLastChecksumAlgorithm)) {
      return Corruption("object metadata: bad checksum algorithm");
    }
    m.checksum.algorithm = ChecksumAlgorithm(alg);
    m.checksum_type = r.U8();
    m.checksum_parts = r.U32();
    m.checksum.len = r.U8();
    if (!r.ok() || m.checksum.len != DigestLength(m.checksum.algorithm)) {
      return Corruption("object metadata: bad checksum length");
    }
    r.Bytes(m.checksum.bytes.data(), m.checksum.len);
  }
  if (version == kObjectMetaVersion3) {
    const uint32_t np = r.U32();
    if (!r.ok() || np == 0 || np > kMetaMaxParts) {
      return Corruption("object metadata: bad part count");
    }
    m.parts.resize(np);
    for (ObjectPart& p : m.parts) {
      p.number = r.U32();
      p.size = r.U64();
      r.Bytes(p.data_id.b, 16);
      p.shard_size = r.U64();
      r.Bytes(p.md5.data(), 16);
      p.checksum.len = r.U8();
      if (!r.ok() || p.checksum.len > kMaxChecksumLen) {
        return Corruption("object metadata: bad part checksum length");
      }
      if (p.checksum.len != 0) p.checksum.algorithm = m.checksum.algorithm;
      r.Bytes(p.checksum.bytes.data(), p.checksum.len);
    }
  }
  if (!r.ok() || r.remaining() != 0) return Corruption("object metadata: truncated or malformed");
  if (bool(flags & kMetaFlagInline) != m.is_inline()) {
    return Corruption("object metadata: inconsistent fields: inline flag");
  }
  if (std::string why = Inconsistency(m); !why.empty()) {
    return Corruption("object metadata: inconsistent fields: " + why);
  }
  return m;
}

}  // namespace cairn
