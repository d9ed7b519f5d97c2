#include "libstore/format/shard_file.h"

#include <cstring>

namespace cairn {

std::string ShardHeader::Encode() const {
  std::string out;
  out.reserve(kShardHeaderSize);
  Writer w(&out);
  w.Bytes(kShardMagic, 8);
  w.U32(kShardVersion);
  w.U32(complete ? kShardFlagComplete : 0);
  w.Bytes(set_id.b, 16);
  w.U32(index);
  w.U32(k);
  w.U32(m);
  w.U32(block_size);
  w.U64(file_size);
  w.U64(file_hash.hi);
  w.U64(file_hash.lo);
  std::string n = name.substr(0, kShardNameMax);
  w.U16(uint16_t(n.size()));
  w.Bytes(n.data(), n.size());
  out.resize(kShardHeaderSize - 8, '\0');
  w.U64(Xxh3_64(out.data(), out.size()));
  return out;
}

Result<ShardHeader> ShardHeader::Decode(std::string_view bytes) {
  if (bytes.size() < kShardHeaderSize || std::memcmp(bytes.data(), kShardMagic, 8) != 0) {
    return Corruption("not a cairn shard file (bad magic or shorter than its header)");
  }
  uint64_t sum;
  std::memcpy(&sum, bytes.data() + kShardHeaderSize - 8, 8);
  if (Xxh3_64(bytes.data(), kShardHeaderSize - 8) != sum) {
    return Corruption("shard header checksum mismatch");
  }
  Reader r(bytes.substr(0, kShardHeaderSize - 8));
  char magic[8];
  r.Bytes(magic, 8);
  uint32_t version = r.U32();
  if (version != kShardVersion) {
    return Corruption("unsupported shard format version " + std::to_string(version));
  }
  ShardHeader h;
  h.complete = (r.U32() & kShardFlagComplete) != 0;
  r.Bytes(h.set_id.b, 16);
  h.index = r.U32();
  h.k = r.U32();
  h.m = r.U32();
  h.block_size = r.U32();
  h.file_size = r.U64();
  h.file_hash.hi = r.U64();
  h.file_hash.lo = r.U64();
  uint16_t nlen = r.U16();
  if (!r.ok() || nlen > kShardNameMax) return Corruption("shard header malformed");
  h.name.resize(nlen);
  r.Bytes(h.name.data(), nlen);
  if (!r.ok() || h.k < 1 || h.k + h.m > 32 || h.index >= h.k + h.m || h.block_size == 0) {
    return Corruption("shard header has inconsistent fields");
  }
  return h;
}

uint64_t ShardBlockSum(const Uuid& set_id, uint32_t index, uint64_t block, const void* chunk,
                       size_t len) {
  uint8_t key[28];
  std::memcpy(key, set_id.b, 16);
  std::memcpy(key + 16, &index, 4);
  std::memcpy(key + 20, &block, 8);
  return Xxh3_64(chunk, len, Xxh3_64(key, sizeof(key)));
}

std::string ShardFileName(const std::string& name, uint32_t index, uint32_t n) {
  std::string total = std::to_string(n);
  std::string idx = std::to_string(index + 1);
  if (idx.size() < total.size()) idx.insert(0, total.size() - idx.size(), '0');
  return name + "." + idx + "-of-" + total + ".cairn";
}

}  // namespace cairn
