// PlainDir: buckets, PUT, GET, HEAD and DELETE. Listing is in plain_list.cc, the hash pass in
// plain_hash.cc.
#include "libstore/plain/plain_dir.h"

#include <algorithm>
#include <functional>

#include "libstore/common/hash.h"
#include "libstore/plain/key_map.h"
#include "libstore/plain/plain_internal.h"

namespace cairn {

struct PlainDir::Opened {
  std::unique_ptr<ReadableFile> file;  // nullptr for a folder marker or a HEAD
  FileStamp stamp;
  bool md5_known = false;
  ObjectInfo info;
};

PlainDir::PlainDir(Volume* vol, PlainDirOptions opts, std::unique_ptr<MetaStore> meta)
    : vol_(vol), opts_(std::move(opts)), meta_(std::move(meta)) {}

PlainDir::~PlainDir() = default;

Result<std::unique_ptr<PlainDir>> PlainDir::Open(Volume* vol, PlainDirOptions opts) {
  if (!opts.read_only) {
    RETURN_IF_ERROR(vol->MakeDirs(plain::kTmpDir));
    // Uploads a crash cut short: nobody else writes here.
    auto left = vol->ListDir(plain::kTmpDir);
    if (!left.ok()) return left.status();
    for (const auto& e : *left) {
      RETURN_IF_ERROR(vol->RemoveAll(std::string(plain::kTmpDir) + "/" + e.name));
    }
  }
  ASSIGN_OR_RETURN(auto meta, MetaStore::Open(opts.db_path));
  return std::unique_ptr<PlainDir>(new PlainDir(vol, std::move(opts), std::move(meta)));
}

Status PlainDir::CheckWritable(const char* what) const {
  if (!opts_.read_only) return Status::Ok();
  return Status(Code::kAccessDenied,
                std::string(what) + ": " + vol_->Describe() + " is served read-only");
}

Status PlainDir::CheckBucket(const std::string& bucket) {
  RETURN_IF_ERROR(ValidatePlainBucketName(bucket));
  auto st = vol_->Stat(bucket);
  if (st.ok() && st->kind == FileKind::kDir) return Status::Ok();
  if (st.ok() || plain::IsAbsent(st.status())) {
    return BucketNotFound("bucket " + bucket + " does not exist");
  }
  return st.status();
}

std::mutex& PlainDir::KeyLock(const std::string& path) {
  return key_locks_[std::hash<std::string>()(path) % kKeyLocks];
}

// ---------------------------------------------------------------------------------------------
// Buckets

Status PlainDir::MakeBucket(const std::string& bucket) {
  RETURN_IF_ERROR(CheckWritable("make bucket"));
  RETURN_IF_ERROR(ValidatePlainBucketName(bucket));
  auto st = vol_->Stat(bucket);
  if (st.ok()) {
    if (st->kind == FileKind::kDir) return AlreadyExists("bucket " + bucket + " already exists");
    return InvalidArgument("bucket " + bucket + ": a " + FileKindName(st->kind) +
                           " of that name is in the served directory");
  }
  if (!plain::IsAbsent(st.status())) return st.status();
  RETURN_IF_ERROR(vol_->MakeDirs(bucket));
  if (!opts_.no_fsync) RETURN_IF_ERROR(vol_->SyncDir(""));
  return Status::Ok();
}

Status PlainDir::RemoveBucket(const std::string& bucket, bool force) {
  RETURN_IF_ERROR(CheckWritable("remove bucket"));
  RETURN_IF_ERROR(CheckBucket(bucket));
  if (force) {
    RETURN_IF_ERROR(vol_->RemoveAll(bucket));
  } else {
    Status s = vol_->RemoveDir(bucket);
    if (s.code() == Code::kNotEmpty) return NotEmpty("bucket " + bucket + " is not empty");
    RETURN_IF_ERROR(s);
  }
  RETURN_IF_ERROR(meta_->DeleteBucket(bucket));
  if (!opts_.no_fsync) RETURN_IF_ERROR(vol_->SyncDir(""));
  return Status::Ok();
}

Result<std::vector<BucketInfo>> PlainDir::ListBuckets() {
  ASSIGN_OR_RETURN(auto entries, vol_->ListDirStat(""));
  std::vector<BucketInfo> out;
  for (const auto& e : entries) {
    if (e.info.kind != FileKind::kDir || !ValidatePlainBucketName(e.name).ok()) continue;
    out.push_back(BucketInfo{e.name, e.info.mtime_ns});
  }
  std::sort(out.begin(), out.end(),
            [](const BucketInfo& a, const BucketInfo& b) { return a.name < b.name; });
  return out;
}

Status PlainDir::BucketExists(const std::string& bucket) { return CheckBucket(bucket); }

// ---------------------------------------------------------------------------------------------
// Reading

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

Result<ObjectInfo> PlainDir::HeadObject(const std::string& bucket, const std::string& key) {
  ASSIGN_OR_RETURN(Opened o, Open(bucket, key, false));
  return std::move(o.info);
}

Result<ObjectInfo> PlainDir::GetObject(const std::string& bucket, const std::string& key,
                                       Sink& sink, GetRange range) {
  ASSIGN_OR_RETURN(Opened o, Open(bucket, key, true));
  const uint64_t size = o.info.size;
  if (size == 0 || o.file == nullptr) {
    if (range.first > 0) return Status(Code::kInvalidRange, "range starts past the end of " + key);
    return std::move(o.info);
  }
  if (range.first >= size) {
    return Status(Code::kInvalidRange, "range starts at " + std::to_string(range.first) +
                                           ", past the end of " + key + " (" +
                                           std::to_string(size) + " bytes)");
  }
  const uint64_t last = std::min(range.last, size - 1);
  if (last < range.first) return InvalidArgument("range ends before it starts");
  const bool whole = range.first == 0 && last == size - 1;
  const bool hash = whole && !o.md5_known;
  Md5Stream md5;
  char* buf = plain::IoBuffer();
  uint64_t off = range.first;
  while (off <= last) {
    size_t want = size_t(std::min<uint64_t>(last + 1 - off, plain::kIoBufferSize));
    ASSIGN_OR_RETURN(size_t got, o.file->ReadAt(off, buf, want));
    if (got < want) {
      return Status(Code::kIOError, vol_->Describe() + "/" + bucket + "/" + key +
                                        ": the file shrank while it was read")
          .WithRetryable();
    }
    if (hash) md5.Update(buf, got);
    RETURN_IF_ERROR(sink.Write(buf, got));
    off += got;
  }
  if (hash) {
    // Recorded only if the file is still what it was when it was opened: then these bytes were it.
    auto now = o.file->StatOpen();
    if (now.ok() && FileStamp::Of(*now) == o.stamp) {
      std::string hex = md5.FinalHex();
      if (meta_->SetMd5(bucket, key, o.stamp, hex).ok()) o.info.etag = hex;
    }
  }
  return std::move(o.info);
}

// ---------------------------------------------------------------------------------------------
// Writing

Status PlainDir::CheckNoConflict(const std::string& key, const std::string& path, bool marker) {
  if (!marker) {
    auto st = vol_->Stat(path);
    if (st.ok() && st->kind == FileKind::kDir) {
      return InvalidArgument("object key " + key +
                             ": a directory of that name holds other objects (a key cannot be "
                             "both an object and a prefix of objects in a plain directory)");
    }
    if (st.ok() && st->kind != FileKind::kFile) {
      return InvalidArgument("object key " + key + ": a " + FileKindName(st->kind) +
                             " of that name is in the served directory");
    }
  }
  // The nearest existing ancestor must be a directory.
  const size_t bucket_len = path.find('/');
  std::string dir = marker ? path : ParentDir(path);
  while (dir.size() > bucket_len) {
    auto st = vol_->Stat(dir);
    if (st.ok()) {
      if (st->kind == FileKind::kDir) return Status::Ok();
      const std::string parent_key = dir.substr(bucket_len + 1);
      if (st->kind == FileKind::kFile) {
        return InvalidArgument("object key " + key + ": " + parent_key +
                               " is an object, so it cannot also be a prefix of objects in a "
                               "plain directory");
      }
      return InvalidArgument("object key " + key + ": " + parent_key + " is a " +
                             FileKindName(st->kind) + " in the served directory; never followed");
    }
    if (!plain::IsAbsent(st.status())) return st.status();
    dir = ParentDir(dir);
  }
  return Status::Ok();
}

Status PlainDir::PutMarker(const std::string& bucket, const std::string& key,
                           const std::string& path, const PutOptions& opts, ObjectInfo* info) {
  RETURN_IF_ERROR(CheckNoConflict(key, path, true));
  std::lock_guard<std::mutex> l(KeyLock(path));
  auto st = vol_->Stat(path);
  if (st.ok() && st->kind != FileKind::kDir) {
    return InvalidArgument("object key " + key + ": " + key.substr(0, key.size() - 1) +
                           " is an object, so " + key + " cannot be a folder marker");
  }
  if (!st.ok()) {
    if (!plain::IsAbsent(st.status())) return st.status();
    RETURN_IF_ERROR(vol_->MakeDirs(path));
    if (Sync(opts)) RETURN_IF_ERROR(vol_->SyncDir(ParentDir(path)));
    ASSIGN_OR_RETURN(st, vol_->Stat(path));
  }
  ObjectRecord rec;
  rec.stamp = FileStamp::Of(*st);
  rec.uploaded = true;
  rec.content_type = opts.content_type;
  rec.user_meta = opts.user_meta;
  Md5Stream md5;
  rec.md5_hex = md5.FinalHex();  // of no bytes
  RETURN_IF_ERROR(meta_->Put(bucket, key, rec));
  ASSIGN_OR_RETURN(*info, Describe(bucket, key, *st));
  return Status::Ok();
}

Result<ObjectInfo> PlainDir::PutObject(const std::string& bucket, const std::string& key,
                                       Source& src, const PutOptions& opts) {
  RETURN_IF_ERROR(CheckWritable("put object"));
  RETURN_IF_ERROR(ValidatePutOptions(opts));
  ASSIGN_OR_RETURN(KeyPath kp, MapPlainKey(bucket, key));
  RETURN_IF_ERROR(CheckBucket(bucket));
  char* buf = plain::IoBuffer();
  if (kp.marker) {
    ASSIGN_OR_RETURN(size_t n, ReadFull(src, buf, 1));
    if (n != 0) {
      return InvalidArgument("object key " + key +
                             ": a key ending in '/' is a directory here and holds no bytes");
    }
    ObjectInfo info;
    RETURN_IF_ERROR(PutMarker(bucket, key, kp.path, opts, &info));
    return info;
  }
  RETURN_IF_ERROR(CheckNoConflict(key, kp.path, false));

  // Stream into a temp file; it is removed on every failure below, until the rename.
  const std::string tmp = TempName(plain::kTmpDir);
  ASSIGN_OR_RETURN(auto file, vol_->NewWritableFile(tmp));
  struct RemoveTmp {
    Volume* v;
    const std::string* path;
    bool armed = true;
    ~RemoveTmp() {
      if (armed) v->Remove(*path).IgnoreError();
    }
  } cleanup{vol_, &tmp};
  const bool want_md5 = opts.etag == EtagMode::kMd5;
  Md5Stream md5;
  uint64_t size = 0;
  while (true) {
    ASSIGN_OR_RETURN(size_t n, ReadFull(src, buf, plain::kIoBufferSize));
    if (n == 0) break;
    if (want_md5) md5.Update(buf, n);
    RETURN_IF_ERROR(file->Append(buf, n));
    size += n;
    if (n < plain::kIoBufferSize) break;
  }
  const bool sync = Sync(opts);
  if (sync) RETURN_IF_ERROR(file->Sync());
  RETURN_IF_ERROR(file->Close());
  ASSIGN_OR_RETURN(FileInfo tmp_st, vol_->Stat(tmp));

  std::lock_guard<std::mutex> l(KeyLock(kp.path));
  const std::string parent = ParentDir(kp.path);
  // A DELETE may prune a parent we just made (it was empty): make it again and retry.
  Status renamed;
  for (int attempt = 0; attempt < 8; ++attempt) {
    Status made = vol_->MakeDirs(parent);
    if (!made.ok()) {
      Status why = CheckNoConflict(key, kp.path, false);
      return why.ok() ? made : why;
    }
    renamed = vol_->Rename(tmp, kp.path);
    if (renamed.code() != Code::kNotFound) break;
  }
  if (!renamed.ok()) {
    Status why = CheckNoConflict(key, kp.path, false);
    return why.ok() ? renamed : why;
  }
  cleanup.armed = false;
  if (sync) RETURN_IF_ERROR(SyncDirOrAncestor(*vol_, parent));
  ASSIGN_OR_RETURN(FileInfo st, vol_->Stat(kp.path));
  ObjectRecord rec;
  rec.stamp = FileStamp::Of(st);
  rec.uploaded = true;
  rec.content_type = opts.content_type;
  rec.user_meta = opts.user_meta;
  if (want_md5) rec.md5_hex = md5.FinalHex();
  if (st.ino == tmp_st.ino && st.dev == tmp_st.dev) {
    RETURN_IF_ERROR(meta_->Put(bucket, key, rec));
  }
  ObjectInfo info;
  info.bucket = bucket;
  info.key = key;
  info.size = size;
  info.mod_time_ns = st.mtime_ns;
  info.etag = PlainEtag(rec.stamp, rec.md5_hex);
  info.content_type = opts.content_type.empty() ? (opts_.mime ? std::string(opts_.mime->TypeOf(key))
                                                              : std::string(kDefaultContentType))
                                                : opts.content_type;
  info.user_meta = opts.user_meta;
  return info;
}

void PlainDir::PruneEmptyDirs(const std::string& bucket, std::string dir) {
  while (dir.size() > bucket.size()) {
    // A folder marker stays, empty or not.
    auto st = vol_->Stat(dir);
    if (!st.ok() || st->kind != FileKind::kDir) return;
    auto rec = meta_->Get(bucket, dir.substr(bucket.size() + 1) + "/", FileStamp::Of(*st));
    if (!rec.ok() || rec->has_value()) return;
    if (!vol_->RemoveDir(dir).ok()) return;  // not empty (or gone): nothing above is empty either
    dir = ParentDir(dir);
  }
}

Status PlainDir::DeleteObject(const std::string& bucket, const std::string& key) {
  RETURN_IF_ERROR(CheckWritable("delete object"));
  ASSIGN_OR_RETURN(KeyPath kp, MapPlainKey(bucket, key));
  RETURN_IF_ERROR(CheckBucket(bucket));
  auto missing = [&] { return NotFound("object " + bucket + "/" + key + " does not exist"); };
  std::lock_guard<std::mutex> l(KeyLock(kp.path));
  auto st = vol_->Stat(kp.path);
  if (!st.ok()) return plain::IsAbsent(st.status()) ? missing() : st.status();
  if (kp.marker) {
    if (st->kind != FileKind::kDir) return missing();
    ASSIGN_OR_RETURN(bool marker, IsMarkerDir(bucket, key, kp.path, *st));
    if (!marker) return missing();
    RETURN_IF_ERROR(meta_->Delete(bucket, key));
    Status s = vol_->RemoveDir(kp.path);
    if (s.code() == Code::kNotEmpty) return Status::Ok();  // still a prefix of other objects
    RETURN_IF_ERROR(s);
  } else {
    if (st->kind != FileKind::kFile) return missing();
    RETURN_IF_ERROR(vol_->Remove(kp.path));
    RETURN_IF_ERROR(meta_->Delete(bucket, key));
  }
  const std::string parent = ParentDir(kp.path);
  PruneEmptyDirs(bucket, parent);
  if (!opts_.no_fsync) RETURN_IF_ERROR(SyncDirOrAncestor(*vol_, parent));
  return Status::Ok();
}

}  // namespace cairn
