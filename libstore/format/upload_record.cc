#include "libstore/format/upload_record.h"

#include <cstdio>

#include "libstore/format/key_path.h"
#include "libstore/format/object_meta.h"

namespace cairn {

std::string UploadDir(const Uuid& upload) { return std::string(kMultipartDir) + "/" + upload.Hex(); }
std::string UploadRecordPath(const Uuid& upload) { return UploadDir(upload) + "/upload"; }
std::string PartRecordPath(const Uuid& upload, uint32_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "/%05u.part", number);
  return UploadDir(upload) + name;
}
std::string UploadReleasedPath(const Uuid& upload) { return UploadDir(upload) + "/released"; }
std::string PartShardPath(const Uuid& upload, const Uuid& part_data) {
  return UploadDir(upload) + "/" + part_data.Hex();
}

bool ParsePartRecordName(std::string_view name, uint32_t* number) {
  if (name.size() != 10 || name.substr(5) != ".part") return false;
  uint32_t n = 0;
  for (char c : name.substr(0, 5)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + uint32_t(c - '0');
  }
  if (n < 1 || n > kMetaMaxParts) return false;
  *number = n;
  return true;
}

namespace {

void PutChecksum(Writer& w, const ChecksumValue& v) {
  w.U8(uint8_t(v.algorithm));
  w.U8(v.len);
  w.Bytes(v.bytes.data(), v.len);
}

bool GetChecksum(Reader& r, ChecksumValue* v) {
  const uint8_t alg = r.U8();
  v->len = r.U8();
  if (!r.ok() || alg > uint8_t(kLastChecksumAlgorithm)) return false;
  v->algorithm = ChecksumAlgorithm(alg);
  if (v->len != DigestLength(v->algorithm)) return false;
  r.Bytes(v->bytes.data(), v->len);
  return r.ok();
}

}  // namespace

Result<std::string> UploadRecord::Encode() const {
  if (!ValidateBucketName(bucket).ok() || !ValidateKey(key).ok()) {
    return InvalidArgument("upload record: not a valid bucket name and key");
  }
  if (content_type.size() > kMetaMaxContentType || user_meta.size() > kMetaMaxUserEntries ||
      completed_etag.size() > kMetaMaxEtag || checksum_type > kMetaChecksumComposite) {
    return InvalidArgument("upload record: a field past the format's limits");
  }
  for (const auto& [k, v] : user_meta) {
    if (k.size() > kMetaMaxUserKey || v.size() > kMetaMaxUserValue) {
      return InvalidArgument("upload record: user metadata past the format's limits");
    }
  }
  std::string out;
  Writer w(&out);
  w.Bytes(kUploadMagic, 8);
  w.U32(kUploadVersion);
  w.Str(bucket);
  w.Str(key);
  w.I64(initiated_ns);
  w.Str(content_type);
  w.U32(uint32_t(user_meta.size()));
  for (const auto& [k, v] : user_meta) {
    w.Str(k);
    w.Str(v);
  }
  w.U8(uint8_t(checksum_algorithm));
  w.U8(checksum_type);
  w.U8(uint8_t(state));
  w.Bytes(completed_version.b, 16);
  w.Str(completed_etag);
  w.U64(completed_parts_hash);
  Seal(&out);
  if (out.size() > kMaxUploadRecordSize) return InvalidArgument("upload record: too large");
  return out;
}

Result<UploadRecord> UploadRecord::Decode(std::string_view in) {
  if (in.size() > kMaxUploadRecordSize) return Corruption("upload record: too large");
  Reader r{std::string_view()};
  if (!OpenSealed(in, kUploadMagic, kUploadVersion, &r)) {
    return Corruption("upload record: bad magic, version or checksum");
  }
  UploadRecord u;
  u.bucket = r.Str(63);
  u.key = r.Str(kMetaMaxKey);
  u.initiated_ns = r.I64();
  u.content_type = r.Str(kMetaMaxContentType);
  const uint32_t n = r.U32();
  if (!r.ok() || n > kMetaMaxUserEntries) return Corruption("upload record: malformed");
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string k = r.Str(kMetaMaxUserKey);
    std::string v = r.Str(kMetaMaxUserValue);
    u.user_meta.emplace_back(std::move(k), std::move(v));
  }
  const uint8_t alg = r.U8();
  u.checksum_type = r.U8();
  const uint8_t state = r.U8();
  r.Bytes(u.completed_version.b, 16);
  u.completed_etag = r.Str(kMetaMaxEtag);
  u.completed_parts_hash = r.U64();
  if (!r.ok() || r.remaining() != 0) return Corruption("upload record: truncated or malformed");
  if (alg > uint8_t(kLastChecksumAlgorithm) || u.checksum_type > kMetaChecksumComposite ||
      (alg == 0) != (u.checksum_type == 0) || state > uint8_t(UploadState::kCompleted)) {
    return Corruption("upload record: bad checksum or state");
  }
  u.checksum_algorithm = ChecksumAlgorithm(alg);
  u.state = UploadState(state);
  if (!ValidateBucketName(u.bucket).ok() || !ValidateKey(u.key).ok()) {
    return Corruption("upload record: not a valid bucket name and key");
  }
  return u;
}

std::string PartRecord::Encode() const {
  std::string out;
  Writer w(&out);
  w.Bytes(kPartMagic, 8);
  w.U32(kPartVersion);
  w.U32(number);
  w.U64(size);
  w.Bytes(data_id.b, 16);
  w.U64(shard_size);
  w.Bytes(md5.data(), 16);
  PutChecksum(w, checksum);
  w.I64(mod_time_ns);
  Seal(&out);
  return out;
}

Result<PartRecord> PartRecord::Decode(std::string_view in) {
  if (in.size() > kMaxPartRecordSize) return Corruption("part record: too large");
  Reader r{std::string_view()};
  if (!OpenSealed(in, kPartMagic, kPartVersion, &r)) {
    return Corruption("part record: bad magic, version or checksum");
  }
  PartRecord p;
  p.number = r.U32();
  p.size = r.U64();
  r.Bytes(p.data_id.b, 16);
  p.shard_size = r.U64();
  r.Bytes(p.md5.data(), 16);
  if (!GetChecksum(r, &p.checksum)) return Corruption("part record: bad checksum field");
  p.mod_time_ns = r.I64();
  if (!r.ok() || r.remaining() != 0) return Corruption("part record: truncated or malformed");
  if (p.number < 1 || p.number > kMetaMaxParts || p.data_id.IsZero()) {
    return Corruption("part record: bad part number or data id");
  }
  return p;
}

}  // namespace cairn
