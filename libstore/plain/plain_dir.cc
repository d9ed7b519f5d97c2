// PlainDir: buckets, PUT and DELETE. Reads are in plain_read.cc, listing in plain_list.cc, the
// hash pass in plain_hash.cc.
#include "libstore/plain/plain_dir.h"

#include <algorithm>
#include <filesystem>
#include <functional>

#include "libstore/common/hash.h"
#include "libstore/plain/key_map.h"
#include "libstore/plain/plain_internal.h"
#include "libstore/plain/upload_store.h"

namespace cairn {

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
    // Every PUT creates a file there and renames it out: kept open, no lookup of it each time.
    vol->PinDir(plain::kTmpDir);
  }
  if (!opts.db_path.empty()) {
    // The database's directory (.cairn/ beside the data, or a state directory) may not exist yet.
    // In read-only mode it is the caller's state directory, never the served one.
    const std::filesystem::path dir = std::filesystem::path(opts.db_path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
      std::filesystem::create_directories(dir, ec);
      if (ec) {
        return Status(Code::kIOError, "cannot make the metadata database's directory " +
                                          dir.string() + ": " + ec.message());
      }
    }
  }
  ASSIGN_OR_RETURN(auto meta, MetaStore::Open(opts.db_path, !opts.no_fsync));
  ASSIGN_OR_RETURN(auto uploads, plain::UploadStore::Open(opts.db_path, !opts.no_fsync));
  std::unique_ptr<PlainDir> dir(new PlainDir(vol, std::move(opts), std::move(meta)));
  dir->uploads_ = std::move(uploads);
  return dir;
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
  RETURN_IF_ERROR(DropUploads(bucket));
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

Status PlainDir::CheckPutConditionsAt(const std::string& bucket, const std::string& key,
                                      const std::string& path, bool marker,
                                      const PutOptions& opts) {
  if (!opts.if_none_match_star && !opts.if_match) return Status::Ok();
  ASSIGN_OR_RETURN(auto current, Current(bucket, key, path, marker));
  return CheckPutConditions(opts, current ? &*current : nullptr).WithContext(bucket + "/" + key);
}

Status PlainDir::PutMarker(const std::string& bucket, const std::string& key,
                           const std::string& path, const PutOptions& opts,
                           const plain::Digests& digests, ObjectInfo* info) {
  RETURN_IF_ERROR(CheckNoConflict(key, path, true));
  std::lock_guard<std::mutex> l(KeyLock(path));
  RETURN_IF_ERROR(CheckPutConditionsAt(bucket, key, path, true, opts));
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
  if (digests.md5_hex.empty()) {
    Md5Stream md5;
    rec.md5_hex = md5.FinalHex();  // of no bytes
  } else {
    rec.md5_hex = digests.md5_hex;
  }
  ObjectInfo sums;
  digests.ApplyTo(&sums);
  rec.checksums = EncodeChecksums(sums);
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
  // Every digest of the body in one pass: the MD5 serves both the ETag and Content-MD5.
  BodyChecksums sums(ChecksumPlan(opts));
  // After the body ended (a trailer's value is known then): what the client promised.
  auto verify = [&]() -> Status {
    sums.Finish();
    ASSIGN_OR_RETURN(ExpectedDigests expected, FinalExpectations(opts));
    return VerifyBody(expected, sums, nullptr).WithContext(bucket + "/" + key);
  };
  if (kp.marker) {
    ASSIGN_OR_RETURN(size_t n, ReadFull(src, buf, 1));
    if (n != 0) {
      return InvalidArgument("object key " + key +
                             ": a key ending in '/' is a directory here and holds no bytes");
    }
    RETURN_IF_ERROR(verify());
    ObjectInfo info;
    RETURN_IF_ERROR(PutMarker(bucket, key, kp.path, opts, plain::Digests::Of(sums), &info));
    return info;
  }
  RETURN_IF_ERROR(CheckNoConflict(key, kp.path, false));
  // Refused early, before the body is read; the check under the key's lock below decides.
  RETURN_IF_ERROR(CheckPutConditionsAt(bucket, key, kp.path, false, opts));

  // Stream into a temp file; it is removed on every failure below, until the rename.
  plain::TempFile tmp(vol_, TempName(plain::kTmpDir));
  ASSIGN_OR_RETURN(auto file, vol_->NewWritableFile(tmp.path()));
  ASSIGN_OR_RETURN(uint64_t size, plain::StreamIntoFile(src, *file, Sync(opts), sums));
  // Checked before the file is synced or committed: a mismatch leaves only the temp file, which
  // goes with tmp.
  RETURN_IF_ERROR(verify());
  // From here to the record's Put the upload is the server's alone (the flush, the key's lock):
  // other uploads' stamp completions may wait for that Put's transaction (MetaStore::CompleteStamp).
  AnnouncedPut ahead(meta_.get());
  if (Sync(opts)) RETURN_IF_ERROR(file->Sync());
  if (auto st = file->StatOpen(); st.ok()) tmp.stat = *st;
  // Left open for the commit's stamp after the rename (TempFile::open_file) once flushed, when a
  // close can no longer report the loss of written bytes. Unflushed, it closes before the rename:
  // a close that fails (a network file system reports its write-back errors there) fails the PUT
  // with the older copy still in place.
  if (tmp.stat && Sync(opts)) {
    tmp.open_file = std::move(file);
  } else {
    RETURN_IF_ERROR(file->Close());
  }
  return CommitTemp(bucket, key, kp.path, tmp, opts, plain::Digests::Of(sums), size, ahead);
}

Result<ObjectInfo> PlainDir::CommitTemp(const std::string& bucket, const std::string& key,
                                        const std::string& path, plain::TempFile& tmp,
                                        const PutOptions& opts, const plain::Digests& digests,
                                        uint64_t size, AnnouncedPut& ahead) {
  const std::string& md5_hex = digests.md5_hex;
  ObjectInfo info;
  digests.ApplyTo(&info);
  FileInfo tmp_st;
  if (tmp.stat) {
    tmp_st = *tmp.stat;
  } else {
    ASSIGN_OR_RETURN(tmp_st, vol_->Stat(tmp.path()));
  }
  std::lock_guard<std::mutex> l(KeyLock(path));
  RETURN_IF_ERROR(CheckPutConditionsAt(bucket, key, path, false, opts));
  // The record goes in before the rename, stamped with the temp file's identity (a rename keeps
  // the inode, size and mtime; only the ctime may change, so it is left pending): once the file
  // is in place its metadata is too, and a database that cannot take the record fails the PUT
  // while nothing has changed. The record it replaces (read in the same transaction, as it was)
  // is put back if the rename fails.
  std::optional<ObjectRecord> old;
  ObjectRecord rec;
  rec.stamp = FileStamp::Of(tmp_st);
  rec.stamp.ctime_ns = FileStamp::kCtimePending;
  rec.uploaded = true;
  rec.content_type = opts.content_type;
  rec.user_meta = opts.user_meta;
  rec.md5_hex = md5_hex;
  rec.checksums = EncodeChecksums(info);
  RETURN_IF_ERROR(ahead.Put(bucket, key, rec, &old));
  auto restore = [&] {
    (old ? meta_->Put(bucket, key, *old) : meta_->Delete(bucket, key)).IgnoreError();
  };
  const std::string parent = ParentDir(path);
  // The parent is usually there: rename first, and make it only when the rename says it is not
  // (a new prefix, or a DELETE pruned the parent, empty, since: make it again and retry). The
  // file's stat data after the rename comes with it (through the directory the rename used: no
  // second lookup of the path).
  std::optional<FileInfo> after;
  Status renamed = vol_->RenameAndStat(tmp.path(), path, &after);
  for (int attempt = 0; attempt < 8 && renamed.code() == Code::kNotFound; ++attempt) {
    Status made = vol_->MakeDirs(parent);
    if (!made.ok()) {
      restore();
      Status why = CheckNoConflict(key, path, false);
      return why.ok() ? made : why;
    }
    renamed = vol_->RenameAndStat(tmp.path(), path, &after);
  }
  if (!renamed.ok()) {
    restore();
    Status why = CheckNoConflict(key, path, false);
    return why.ok() ? renamed : why;
  }
  tmp.Disarm();
  if (Sync(opts)) RETURN_IF_ERROR(SyncDirOrAncestor(*vol_, parent));
  // The full stamp now (not flushed on its own, and in the next upload's transaction when one is
  // announced: MetaStore::CompleteStamp); if this write fails the pending record still describes
  // the file. From the rename's stat, else from the file still open when there is one (the inode
  // just renamed), else by a lookup of the path.
  if (tmp.open_file) {
    if (!after) {
      if (auto now = tmp.open_file->StatOpen(); now.ok()) after = *now;
    }
    // Flushed before the rename: the object is in place and whole, whatever the close says.
    tmp.open_file->Close().IgnoreError();
    tmp.open_file.reset();
  }
  if (!after) {
    ASSIGN_OR_RETURN(FileInfo looked, vol_->Stat(path));
    after = looked;
  }
  const FileInfo& st = *after;
  if (st.ino == tmp_st.ino && st.dev == tmp_st.dev) {
    meta_->CompleteStamp(bucket, key, FileStamp::Of(st)).IgnoreError();
  }
  info.bucket = bucket;
  info.key = key;
  info.size = size;
  info.mod_time_ns = st.mtime_ns;
  info.etag = PlainEtag(FileStamp::Of(st), md5_hex);
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
    RETURN_IF_ERROR(uploads_->DeleteObjectLayout(bucket, key));
  }
  const std::string parent = ParentDir(kp.path);
  PruneEmptyDirs(bucket, parent);
  if (!opts_.no_fsync) RETURN_IF_ERROR(SyncDirOrAncestor(*vol_, parent));
  return Status::Ok();
}

}  // namespace cairn
