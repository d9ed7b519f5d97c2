// The bytes of an object metadata file holding a value as it is: laid out as ObjectMeta::Encode
// does (docs/format.md, "Object metadata"), but without its checks, so a fuzz target or test can
// hand Decode what a damaged or planted file holds, and compare Encode's verdict with Decode's.
#pragma once

#include <string>

#include "libstore/format/encoding.h"
#include "libstore/format/object_meta.h"

namespace cairn::fuzz {

inline std::string MetaBytes(const ObjectMeta& m) {
  std::string out;
  Writer w(&out);
  w.Bytes(kObjectMetaMagic, 8);
  const bool sum = m.checksum.algorithm != ChecksumAlgorithm::kNone;
  w.U32(sum ? kObjectMetaVersion2 : kObjectMetaVersion1);
  w.U32((m.is_inline() ? kMetaFlagInline : 0) | (m.delete_marker ? kMetaFlagDeleteMarker : 0));
  w.Str(m.key);
  w.Bytes(m.version_id.b, 16);
  w.I64(m.mod_time_ns);
  w.U64(m.size);
  w.Str(m.etag);
  w.Str(m.content_type);
  w.U32(uint32_t(m.user_meta.size()));
  for (const auto& [k, v] : m.user_meta) {
    w.Str(k);
    w.Str(v);
  }
  w.U32(m.k);
  w.U32(m.m);
  w.U32(m.block_size);
  w.U32(m.shard_index);
  w.U32(uint32_t(m.distribution.size()));
  w.Bytes(m.distribution.data(), m.distribution.size());
  w.Bytes(m.data_id.b, 16);
  w.U64(m.shard_size);
  w.Str(m.inline_shard);
  if (sum) {
    w.U8(uint8_t(m.checksum.algorithm));
    w.U8(m.checksum_type);
    w.U32(m.checksum_parts);
    w.U8(m.checksum.len);
    w.Bytes(m.checksum.bytes.data(), m.checksum.len);
  }
  Seal(&out);
  return out;
}

}  // namespace cairn::fuzz
