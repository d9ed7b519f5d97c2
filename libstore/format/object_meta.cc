#include "libstore/format/object_meta.h"

#include <cstring>

#include "libstore/common/hash.h"

namespace cairn {

std::string ObjectMeta::Encode() const {
  std::string out;
  out.reserve(256 + key.size() + inline_shard.size());
  Writer w(&out);
  w.Bytes(kObjectMetaMagic, 8);
  w.U32(kObjectMetaVersion);
  w.U32(is_inline() ? kMetaFlagInline : 0);
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
  w.U64(Xxh3_64(out.data(), out.size()));
  return out;
}

Result<ObjectMeta> ObjectMeta::Decode(std::string_view bytes) {
  if (bytes.size() < 8 + 4 + 8 || std::memcmp(bytes.data(), kObjectMetaMagic, 8) != 0) {
    return Corruption("object metadata: bad magic");
  }
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
  if (version != kObjectMetaVersion) {
    return Corruption("object metadata: unsupported version " + std::to_string(version));
  }
  uint32_t flags = r.U32();
  m.key = r.Str(1024);
  r.Bytes(m.version_id.b, 16);
  m.mod_time_ns = r.I64();
  m.size = r.U64();
  m.etag = r.Str(256);
  m.content_type = r.Str(1024);
  uint32_t nmeta = r.U32();
  if (nmeta > 1024) return Corruption("object metadata: too many user metadata entries");
  for (uint32_t i = 0; i < nmeta && r.ok(); ++i) {
    std::string k2 = r.Str(1024);
    std::string v = r.Str(8192);
    m.user_meta.emplace_back(std::move(k2), std::move(v));
  }
  m.k = r.U32();
  m.m = r.U32();
  m.block_size = r.U32();
  m.shard_index = r.U32();
  uint32_t nd = r.U32();
  if (!r.ok() || nd > 32) return Corruption("object metadata: malformed");
  m.distribution.resize(nd);
  r.Bytes(m.distribution.data(), nd);
  r.Bytes(m.data_id.b, 16);
  m.shard_size = r.U64();
  m.inline_shard = r.Str(kMaxMetaFileSize);
  if (!r.ok() || r.remaining() != 0) return Corruption("object metadata: truncated or malformed");
  if (m.k < 1 || m.k + m.m != nd || m.shard_index >= nd || m.block_size == 0 ||
      bool(flags & kMetaFlagInline) != m.is_inline() ||
      (m.is_inline() && m.inline_shard.size() != m.shard_size)) {
    return Corruption("object metadata: inconsistent fields");
  }
  for (uint8_t d : m.distribution) {
    if (d >= nd) return Corruption("object metadata: bad distribution");
  }
  return m;
}

}  // namespace cairn
