#include "libstore/format/shard_file.h"

#include <cstring>

#include "libstore/erasure/codec.h"
#include "libstore/format/framing.h"

namespace cairn {

static_assert(kShardMaxShards == uint32_t(kMaxShards), "a shard header holds what the codec takes");

namespace {

// Offsets of docs/format.md's table.
constexpr size_t kNameOffset = 74;
constexpr size_t kSumOffset = kShardHeaderSize - 8;
static_assert(kNameOffset + kShardNameMax <= kSumOffset);

// kCorruption for a field outside what encode writes.
Status BadField(const std::string& what) { return Corruption("shard header: " + what); }

}  // namespace

Status CheckBaseName(std::string_view name, size_t max_len) {
  if (name.empty()) return InvalidArgument("empty file name");
  if (name.size() > max_len) {
    return InvalidArgument("file name of " + std::to_string(name.size()) + " bytes (at most " +
                           std::to_string(max_len) + ")");
  }
  if (name == "." || name == "..") return InvalidArgument("file name '" + std::string(name) + "'");
  for (unsigned char c : name) {
    if (c == '/') return InvalidArgument("file name '" + std::string(name) + "' contains '/'");
    if (c == 0) return InvalidArgument("file name contains NUL");
    if (c < 0x20 || c == 0x7f) return InvalidArgument("file name contains a control character");
  }
  return Status::Ok();
}

bool ShardHeader::SameEncode(const ShardHeader& o) const {
  return set_id == o.set_id && k == o.k && m == o.m && block_size == o.block_size &&
         file_size == o.file_size && file_hash == o.file_hash && name == o.name &&
         complete == o.complete;
}

Status ShardHeader::Validate() const {
  // 64-bit sum: K = 4294967294, M = 3 must not wrap around to 1.
  const uint64_t n = uint64_t(k) + m;
  if (k < 1 || n > kShardMaxShards) {
    return BadField("K+M = " + std::to_string(k) + "+" + std::to_string(m) +
                    " (need K >= 1 and K + M <= " + std::to_string(kShardMaxShards) + ")");
  }
  if (index >= n) {
    return BadField("shard index " + std::to_string(index) + " of " + std::to_string(n));
  }
  if (block_size < kShardMinBlockSize || block_size > kShardMaxBlockSize) {
    return BadField("block size " + std::to_string(block_size) + " (4 KiB to 64 MiB)");
  }
  // The shard's length must fit in an off_t: blocks * (chunk + checksum) + header, computed so
  // that nothing wraps.
  const StripeLayout lay = layout();
  const uint64_t blocks = file_size / block_size + (file_size % block_size != 0);
  const uint64_t stride = lay.full_chunk_len() + kChecksumLen;
  if (file_size > kShardMaxFileSize || blocks > (kShardMaxFileSize - kShardHeaderSize) / stride) {
    return BadField("file size " + std::to_string(file_size) + " (its shards could not be files)");
  }
  if (Status s = CheckBaseName(name, kShardNameMax); !s.ok()) {
    return BadField("name: " + s.message());
  }
  return Status::Ok();
}

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
  out.resize(kSumOffset, '\0');
  w.U64(Xxh3_64(out.data(), out.size()));
  return out;
}

Result<ShardHeader> ShardHeader::Decode(std::string_view bytes) {
  if (bytes.size() < kShardHeaderSize || std::memcmp(bytes.data(), kShardMagic, 8) != 0) {
    return Corruption("not a cairn shard file (bad magic or shorter than its header)");
  }
  uint64_t sum;
  std::memcpy(&sum, bytes.data() + kSumOffset, 8);
  if (Xxh3_64(bytes.data(), kSumOffset) != sum) {
    return Corruption("shard header checksum mismatch");
  }
  Reader r(bytes.substr(0, kSumOffset));
  char magic[8];
  r.Bytes(magic, 8);
  uint32_t version = r.U32();
  if (version != kShardVersion) {
    return Corruption("unsupported shard format version " + std::to_string(version));
  }
  ShardHeader h;
  uint32_t flags = r.U32();
  if ((flags & ~kShardKnownFlags) != 0) return BadField("unknown flags " + std::to_string(flags));
  h.complete = (flags & kShardFlagComplete) != 0;
  r.Bytes(h.set_id.b, 16);
  h.index = r.U32();
  h.k = r.U32();
  h.m = r.U32();
  h.block_size = r.U32();
  h.file_size = r.U64();
  h.file_hash.hi = r.U64();
  h.file_hash.lo = r.U64();
  uint16_t nlen = r.U16();
  if (!r.ok() || nlen > kShardNameMax) {
    return BadField("name length " + std::to_string(nlen) + " (at most " +
                    std::to_string(kShardNameMax) + ")");
  }
  h.name = std::string(r.View(nlen));
  // Encode writes zeros after the name: anything else is not a header encode wrote.
  std::string_view pad = r.View(r.remaining());
  if (!r.ok() || pad.find_first_not_of('\0') != std::string_view::npos) {
    return BadField("non-zero bytes after the name");
  }
  RETURN_IF_ERROR(h.Validate());
  return h;
}

uint64_t ShardBlockSeed(const Uuid& set_id, uint32_t index, uint64_t block) {
  // Little-endian whatever the host, without allocating: this runs once per chunk.
  uint8_t key[28];
  std::memcpy(key, set_id.b, 16);
  for (int i = 0; i < 4; ++i) key[16 + i] = uint8_t(index >> (8 * i));
  for (int i = 0; i < 8; ++i) key[20 + i] = uint8_t(block >> (8 * i));
  return Xxh3_64(key, sizeof(key));
}

uint64_t ShardBlockSum(const Uuid& set_id, uint32_t index, uint64_t block, const void* chunk,
                       size_t len) {
  return ChunkSum(chunk, len, ShardBlockSeed(set_id, index, block));
}

std::string ShardFileName(const std::string& name, uint32_t index, uint32_t n) {
  std::string total = std::to_string(n);
  std::string idx = std::to_string(index + 1);
  if (idx.size() < total.size()) idx.insert(0, total.size() - idx.size(), '0');
  return name + "." + idx + "-of-" + total + ".cairn";
}

}  // namespace cairn
