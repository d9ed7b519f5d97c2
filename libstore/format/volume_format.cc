#include "libstore/format/volume_format.h"

#include <cstring>

#include "libstore/common/hash.h"

namespace cairn {

std::string VolumeFormat::Encode() const {
  std::string out;
  Writer w(&out);
  w.Bytes(kVolumeFormatMagic, 8);
  w.U32(kVolumeFormatVersion);
  w.Bytes(set_id.b, 16);
  w.Bytes(volume_id.b, 16);
  w.U32(position);
  w.U32(k);
  w.U32(m);
  w.U32(block_size);
  w.U32(inline_limit);
  w.U32(uint32_t(members.size()));
  for (const auto& mb : members) {
    w.Bytes(mb.volume_id.b, 16);
    w.Str(mb.path);
  }
  w.U64(Xxh3_64(out.data(), out.size()));
  return out;
}

Result<VolumeFormat> VolumeFormat::Decode(std::string_view bytes) {
  if (bytes.size() < 8 + 4 + 8 || std::memcmp(bytes.data(), kVolumeFormatMagic, 8) != 0) {
    return Corruption("not a cairn volume format file (bad magic)");
  }
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (Xxh3_64(bytes.data(), bytes.size() - 8) != stored) {
    return Corruption("volume format file checksum mismatch");
  }
  Reader r(bytes.substr(0, bytes.size() - 8));
  VolumeFormat f;
  char magic[8];
  r.Bytes(magic, 8);
  uint32_t version = r.U32();
  if (version != kVolumeFormatVersion) {
    return Corruption("unsupported volume format version " + std::to_string(version));
  }
  r.Bytes(f.set_id.b, 16);
  r.Bytes(f.volume_id.b, 16);
  f.position = r.U32();
  f.k = r.U32();
  f.m = r.U32();
  f.block_size = r.U32();
  f.inline_limit = r.U32();
  uint32_t n = r.U32();
  if (!r.ok() || n > 32) return Corruption("volume format file truncated or malformed");
  for (uint32_t i = 0; i < n; ++i) {
    Member mb;
    r.Bytes(mb.volume_id.b, 16);
    mb.path = r.Str(4096);
    f.members.push_back(std::move(mb));
  }
  if (!r.ok() || r.remaining() != 0) return Corruption("volume format file truncated or malformed");
  // K+M in 64 bits, so K=2^32-1, M=n+1 does not pass as n members.
  if (f.k < 1 || uint64_t(f.k) + f.m != n || f.position >= n || f.block_size == 0 ||
      f.members[f.position].volume_id != f.volume_id) {
    return Corruption("volume format file has inconsistent fields");
  }
  // Sizes init never writes: a 4 GiB inline limit would wrap PUT's read-ahead size to 0.
  if (f.block_size < kMinBlockSize || f.block_size > kMaxBlockSize || f.block_size % 64 != 0 ||
      f.inline_limit > kMaxInlineLimit) {
    return Corruption("volume format file has a block size or inline limit out of range");
  }
  return f;
}

std::string EncodeReplacedRecord(int64_t ns) {
  std::string out;
  out.reserve(kReplacedSize);
  Writer w(&out);
  w.Bytes(kReplacedMagic, 8);
  w.U32(kReplacedVersion);
  w.I64(ns < 0 ? 0 : ns);
  Seal(&out);
  return out;
}

Result<int64_t> DecodeReplacedRecord(std::string_view bytes) {
  Reader r{std::string_view()};
  if (bytes.size() != kReplacedSize || !OpenSealed(bytes, kReplacedMagic, kReplacedVersion, &r)) {
    return Corruption("not a cairn replacement record (bad size, magic, version or checksum)");
  }
  const int64_t ns = r.I64();
  if (!r.ok() || r.remaining() != 0 || ns < 0) return Corruption("bad replacement record");
  return ns;
}

}  // namespace cairn
