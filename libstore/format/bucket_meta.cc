#include "libstore/format/bucket_meta.h"

#include <charconv>

#include "libstore/format/encoding.h"

namespace cairn {

Result<std::string> BucketMeta::Encode() const {
  if (created_ns < 0) {
    return InvalidArgument("bucket record: creation time " + std::to_string(created_ns) +
                           " is before the epoch");
  }
  std::string out;
  out.reserve(kBucketMetaSize);
  Writer w(&out);
  w.Bytes(kBucketMetaMagic, 8);
  w.U32(kBucketMetaVersion);
  w.I64(created_ns);
  Seal(&out);
  return out;
}

Result<BucketMeta> BucketMeta::Decode(std::string_view bytes) {
  Reader r{std::string_view()};
  if (bytes.size() != kBucketMetaSize ||
      !OpenSealed(bytes, kBucketMetaMagic, kBucketMetaVersion, &r)) {
    return Corruption("not a cairn bucket record (bad size, magic, version or checksum)");
  }
  BucketMeta m;
  m.created_ns = r.I64();
  if (!r.ok() || r.remaining() != 0) return Corruption("bucket record truncated");
  if (m.created_ns < 0) return Corruption("bucket record: creation time before the epoch");
  return m;
}

Result<BucketMeta> BucketMeta::DecodeOrLegacy(std::string_view bytes, bool* legacy) {
  if (legacy != nullptr) *legacy = false;
  auto m = Decode(bytes);
  if (m.ok()) return m;
  BucketMeta old;
  const char* end = bytes.data() + bytes.size();
  if (!bytes.empty() && bytes[0] >= '0' && bytes[0] <= '9') {
    auto r = std::from_chars(bytes.data(), end, old.created_ns);
    if (r.ec == std::errc() && r.ptr == end) {
      if (legacy != nullptr) *legacy = true;
      return old;
    }
  }
  return m;
}

std::string BucketMetaPath(std::string_view bucket) {
  std::string p(bucket);
  p += '/';
  p += kBucketMetaName;
  return p;
}

}  // namespace cairn
