// PlainDir::CopyObject: copy_file_range from the open source file into a temp file, renamed into
// place like a PUT; a copy onto itself rewrites the metadata record alone.
#include "libstore/common/hash.h"
#include "libstore/plain/key_map.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/plain/plain_internal.h"
#include "libstore/plain/plain_reader.h"

namespace cairn {
namespace {

// An open reader as the body of a PUT (a copy that involves a folder marker).
class ReaderSource : public Source {
 public:
  explicit ReaderSource(ObjectReader& r) : r_(r) {}
  Result<size_t> Read(void* buf, size_t n) override { return r_.Read(buf, n); }

 private:
  ObjectReader& r_;
};

Status Shrank(const std::string& what) {
  return Status(Code::kIOError, what + ": the file shrank while it was copied").WithRetryable();
}

}  // namespace

Result<ObjectInfo> PlainDir::CopyObject(const std::string& src_bucket, const std::string& src_key,
                                        const std::string& dst_bucket, const std::string& dst_key,
                                        const CopyOptions& opts) {
  RETURN_IF_ERROR(CheckWritable("copy object"));
  const bool self = src_bucket == dst_bucket && src_key == dst_key;
  if (self && opts.directive != MetadataDirective::kReplace) {
    return InvalidArgument(src_bucket + "/" + src_key +
                           ": a copy onto itself must replace the metadata");
  }
  const std::string src_name = src_bucket + "/" + src_key;
  // The source version is fixed here (its file stays open); its conditions are decided on it.
  ASSIGN_OR_RETURN(Opened o, Open(src_bucket, src_key, true));
  RETURN_IF_ERROR(EvaluateConditions(opts.source_conditions, o.info.etag, o.info.mod_time_ns,
                                     /*for_read=*/false)
                      .WithContext("copy source " + src_name));
  PutOptions po;
  if (opts.directive == MetadataDirective::kReplace) {
    po.content_type = opts.content_type;
    po.user_meta = opts.user_meta;
  } else {
    po.content_type = o.info.content_type;
    po.user_meta = o.info.user_meta;
  }
  po.etag = opts.etag;
  po.fsync = opts.fsync;
  RETURN_IF_ERROR(ValidatePutOptions(po));
  ASSIGN_OR_RETURN(KeyPath dst, MapPlainKey(dst_bucket, dst_key));
  RETURN_IF_ERROR(CheckBucket(dst_bucket));
  if (self) return RewriteRecord(src_bucket, src_key, dst.path, o, po);

  if (o.file == nullptr || dst.marker) {
    // A folder marker on either side: the bytes (none, or a marker's refusal of some) go through
    // PutObject, from the version opened above.
    ASSIGN_OR_RETURN(ByteRange whole, ResolveRange(std::nullopt, o.info.size));
    Reader r(this, std::move(o), whole);
    ReaderSource body(r);
    return PutObject(dst_bucket, dst_key, body, po);
  }

  RETURN_IF_ERROR(CheckNoConflict(dst_key, dst.path, false));
  plain::TempFile tmp(vol_, TempName(plain::kTmpDir));
  ASSIGN_OR_RETURN(auto out, vol_->NewWritableFile(tmp.path()));
  const uint64_t size = o.info.size;
  std::string md5_hex = o.md5_known ? o.info.etag : std::string();
  const bool hash = md5_hex.empty() && opts.etag == EtagMode::kMd5;
  if (hash) {
    // The MD5 is not known: one pass through the buffer, hashing as the bytes go.
    Md5Stream md5;
    char* buf = plain::IoBuffer();
    for (uint64_t off = 0; off < size;) {
      const size_t want = size_t(std::min<uint64_t>(size - off, plain::kIoBufferSize));
      ASSIGN_OR_RETURN(size_t got, o.file->ReadAt(off, buf, want));
      if (got == 0) return Shrank(src_name);
      md5.Update(buf, got);
      RETURN_IF_ERROR(out->Append(buf, got));
      off += got;
    }
    md5_hex = md5.FinalHex();
  } else {
    // copy_file_range on a LocalVolume: no byte through user space.
    for (uint64_t off = 0; off < size;) {
      ASSIGN_OR_RETURN(uint64_t got, out->AppendFrom(*o.file, off, size - off));
      if (got == 0) return Shrank(src_name);
      off += got;
    }
  }
  // The copy is of one version only if the source did not change while it was read.
  ASSIGN_OR_RETURN(FileInfo now, o.file->StatOpen());
  if (!(FileStamp::Of(now) == o.stamp)) {
    return Status(Code::kIOError, src_name + " changed while it was copied").WithRetryable();
  }
  if (hash) meta_->SetMd5(src_bucket, src_key, o.stamp, md5_hex).IgnoreError();  // a cache only
  if (Sync(po)) RETURN_IF_ERROR(out->Sync());
  RETURN_IF_ERROR(out->Close());
  return CommitTemp(dst_bucket, dst_key, dst.path, tmp, po, md5_hex, size);
}

Result<ObjectInfo> PlainDir::RewriteRecord(const std::string& bucket, const std::string& key,
                                           const std::string& path, const Opened& o,
                                           const PutOptions& po) {
  std::lock_guard<std::mutex> l(KeyLock(path));
  ASSIGN_OR_RETURN(FileInfo st, vol_->Stat(path));
  if (!(FileStamp::Of(st) == o.stamp)) {
    return Status(Code::kIOError, bucket + "/" + key + " changed while its metadata was replaced")
        .WithRetryable();
  }
  ASSIGN_OR_RETURN(auto old, meta_->Get(bucket, key, o.stamp));
  ObjectRecord rec;
  rec.stamp = o.stamp;
  rec.uploaded = true;
  rec.content_type = po.content_type;
  rec.user_meta = po.user_meta;
  if (old) {
    rec.md5_hex = old->md5_hex;
    rec.checksums = old->checksums;  // of the bytes, which stay
  }
  RETURN_IF_ERROR(meta_->Put(bucket, key, rec));
  return Describe(bucket, key, st);
}

}  // namespace cairn
