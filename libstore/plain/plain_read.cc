// PlainDir reads: OpenObject's reader over the open file, HEAD, and how an entry is described.
#include <algorithm>

#include "libstore/common/hash.h"
#include "libstore/plain/key_map.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/plain/plain_internal.h"

namespace cairn {

struct PlainDir::Opened {
  std::unique_ptr<ReadableFile> file;  // nullptr for a folder marker or a HEAD
  FileStamp stamp;
  bool md5_known = false;
  ObjectInfo info;
};

// Reads the range from the file opened by OpenObject (never by name again). When the range is
// the whole file and its MD5 is not known, hashes the bytes as they go and records the MD5 once
// the last one is read, if the open file's stamp is still the one described.
class PlainDir::Reader : public ObjectReader {
 public:
  Reader(PlainDir* store, Opened o, ByteRange range)
      : ObjectReader(std::move(o.info), range),
        store_(store),
        file_(std::move(o.file)),
        stamp_(o.stamp),
        hash_(!range.partial && !o.md5_known && file_ != nullptr),
        pos_(range.first),
        end_(range.first + range.length) {}

  Result<size_t> Read(void* buf, size_t n) override {
    RETURN_IF_ERROR(error_);
    if (pos_ == end_ || n == 0) {
      Finish();
      return size_t(0);
    }
    const size_t want = size_t(std::min<uint64_t>(n, end_ - pos_));
    auto got = file_->ReadAt(pos_, buf, want);
    if (!got.ok()) return error_ = got.status();
    if (*got == 0) {
      return error_ = Status(Code::kIOError, store_->vol_->Describe() + "/" + info_.bucket + "/" +
                                                 info_.key + ": the file shrank while it was read")
                          .WithRetryable();
    }
    if (hash_) md5_.Update(buf, *got);
    pos_ += *got;
    if (pos_ == end_) Finish();
    return *got;
  }

  // Through this thread's I/O buffer: no allocation per GET.
  Status WriteTo(Sink& sink) override {
    char* buf = plain::IoBuffer();
    while (true) {
      ASSIGN_OR_RETURN(size_t got, Read(buf, plain::kIoBufferSize));
      if (got == 0) return Status::Ok();
      RETURN_IF_ERROR(sink.Write(buf, got));
    }
  }

  std::optional<FileRange> ZeroCopy() override {
    if (file_ == nullptr || file_->NativeFd() < 0) return std::nullopt;
    hash_ = false;  // the bytes will not pass through here
    return FileRange{file_->NativeFd(), range_.first, range_.length};
  }

 private:
  void Finish() {
    if (!hash_) return;
    hash_ = false;
    // Recorded only if the file is still what it was when it was opened: then these bytes were it.
    auto now = file_->StatOpen();
    if (!now.ok() || !(FileStamp::Of(*now) == stamp_)) return;
    std::string hex = md5_.FinalHex();
    if (store_->meta_->SetMd5(info_.bucket, info_.key, stamp_, hex).ok()) info_.etag = hex;
  }

  PlainDir* store_;
  std::unique_ptr<ReadableFile> file_;
  FileStamp stamp_;
  bool hash_;
  Md5Stream md5_;
  uint64_t pos_, end_;
  Status error_;
};

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
  if (rec && rec->uploaded) {
    info.content_type = rec->content_type;
    info.user_meta = rec->user_meta;
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
  RETURN_IF_ERROR(CheckBucket(bucket));
  auto missing = [&] { return NotFound("object " + bucket + "/" + key + " does not exist"); };
  Opened o;
  FileInfo fi;
  if (kp.marker || !open_file) {
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
  } else {
    auto f = vol_->NewReadableFile(kp.path);
    if (!f.ok()) return plain::IsAbsent(f.status()) ? missing() : f.status();
    o.file = std::move(f).value();
    ASSIGN_OR_RETURN(fi, o.file->StatOpen());
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
  ASSIGN_OR_RETURN(ByteRange range, ResolveRange(opts.range, o.info.size));
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
