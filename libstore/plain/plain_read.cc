// PlainDir reads: OpenObject's reader over the open file, HEAD, and how an entry is described.
#include <algorithm>

#include "libstore/common/hash.h"
#include "libstore/object/multipart.h"
#include "libstore/plain/key_map.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/plain/plain_internal.h"
#include "libstore/plain/plain_reader.h"
#include "libstore/plain/upload_store.h"

namespace cairn {

Result<ObjectInfo> PlainDir::Describe(const std::string& bucket, const std::string& key,
                                      const FileInfo& fi) {
  ObjectInfo info;
  info.bucket = bucket;
  info.key = key;
  info.size = fi.kind == FileKind::kDir ? 0 : fi.size;
  info.mod_time_ns = fi.mtime_ns;
  const FileStamp stamp = FileStamp::Of(fi);
  ASSIGN_OR_RETURN(auto rec, meta_->Get(bucket, key, stamp));
  info.etag = PlainEtag(stamp, rec ? rec->md5_hex : std::string());
  if (rec && rec->md5_hex.find('-') != std::string::npos) {
    RETURN_IF_ERROR(DescribeMultipart(bucket, key, stamp, &info));
  }
  if (rec && rec->uploaded) {
    info.content_type = rec->content_type;
    info.user_meta = rec->user_meta;
    DecodeChecksums(rec->checksums, &info);
  }
  if (info.content_type.empty()) {
    info.content_type =
        opts_.mime ? std::string(opts_.mime->TypeOf(key)) : std::string(kDefaultContentType);
  }
  return info;
}

Result<bool> PlainDir::IsMarkerDir(const std::string& bucket, const std::string& key,
                                   const std::string& path, const FileInfo& fi) {
  ASSIGN_OR_RETURN(auto rec, meta_->Get(bucket, key, FileStamp::Of(fi)));
  if (rec) return true;
  ASSIGN_OR_RETURN(auto entries, vol_->ListDir(path));
  return entries.empty();
}

Result<PlainDir::Opened> PlainDir::Open(const std::string& bucket, const std::string& key,
                                        bool open_file) {
  ASSIGN_OR_RETURN(KeyPath kp, MapPlainKey(bucket, key));
  auto missing = [&] { return NotFound("object " + bucket + "/" + key + " does not exist"); };
  Opened o;
  FileInfo fi;
  if (!kp.marker && open_file) {
    // A GET of a file: opened first (MapPlainKey validated the names), the bucket checked only
    // when that fails. A file opened at bucket/key (beneath the root, no symlinks) proves the
    // bucket a directory: the answer a check first would give, one stat less per GET.
    auto f = vol_->NewReadableFile(kp.path);
    if (!f.ok()) {
      RETURN_IF_ERROR(CheckBucket(bucket));
      return plain::IsAbsent(f.status()) ? missing() : f.status();
    }
    o.file = std::move(f).value();
    ASSIGN_OR_RETURN(fi, o.file->StatAtOpen());  // taken by the open: no second fstat
  } else {
    RETURN_IF_ERROR(CheckBucket(bucket));
    auto st = vol_->Stat(kp.path);
    if (!st.ok()) return plain::IsAbsent(st.status()) ? missing() : st.status();
    fi = *st;
    if (kp.marker) {
      if (fi.kind != FileKind::kDir) return missing();
      ASSIGN_OR_RETURN(bool marker, IsMarkerDir(bucket, key, kp.path, fi));
      if (!marker) return missing();
    } else if (fi.kind != FileKind::kFile) {
      return missing();
    }
  }
  o.stamp = FileStamp::Of(fi);
  ASSIGN_OR_RETURN(o.info, Describe(bucket, key, fi));
  o.md5_known = o.info.etag.find('-') == std::string::npos;
  return o;
}

Result<ObjectInfo> PlainDir::HeadObject(const std::string& bucket, const std::string& key,
                                        const GetOptions& opts, ObjectInfo* verdict) {
  ASSIGN_OR_RETURN(Opened o, Open(bucket, key, false));
  if (Status c = EvaluateConditions(opts.conditions, o.info.etag, o.info.mod_time_ns, true);
      !c.ok()) {
    if (verdict != nullptr) *verdict = o.info;
    return c.WithContext(bucket + "/" + key);
  }
  return std::move(o.info);
}

Result<std::unique_ptr<ObjectReader>> PlainDir::OpenObject(const std::string& bucket,
                                                           const std::string& key,
                                                           const GetOptions& opts,
                                                           ObjectInfo* verdict) {
  ASSIGN_OR_RETURN(Opened o, Open(bucket, key, true));
  if (Status c = EvaluateConditions(opts.conditions, o.info.etag, o.info.mod_time_ns, true);
      !c.ok()) {
    if (verdict != nullptr) *verdict = o.info;
    return c.WithContext(bucket + "/" + key);
  }
  std::optional<plain::MultipartObjectRecord> layout;
  if (opts.part_number != 0 && o.info.parts_count != 0) {
    ASSIGN_OR_RETURN(layout, uploads_->GetObjectLayout(bucket, key, o.stamp));
  }
  ASSIGN_OR_RETURN(ByteRange range,
                   ResolveGetBytes(opts, o.info.size, layout ? &layout->part_sizes : nullptr));
  return std::unique_ptr<ObjectReader>(new Reader(this, std::move(o), range));
}

Result<std::optional<ObjectInfo>> PlainDir::Current(const std::string& bucket,
                                                    const std::string& key, const std::string& path,
                                                    bool marker) {
  auto st = vol_->Stat(path);
  if (!st.ok()) {
    if (plain::IsAbsent(st.status())) return std::optional<ObjectInfo>();
    return st.status();
  }
  if (marker) {
    if (st->kind != FileKind::kDir) return std::optional<ObjectInfo>();
    ASSIGN_OR_RETURN(bool is_marker, IsMarkerDir(bucket, key, path, *st));
    if (!is_marker) return std::optional<ObjectInfo>();
  } else if (st->kind != FileKind::kFile) {
    return std::optional<ObjectInfo>();
  }
  ASSIGN_OR_RETURN(ObjectInfo info, Describe(bucket, key, *st));
  return std::optional<ObjectInfo>(std::move(info));
}

}  // namespace cairn
