#include "libstore/plain/upload_store.h"

#include <charconv>

namespace cairn::plain {

Result<std::unique_ptr<UploadStore>> UploadStore::Open(const std::string& path, bool durable) {
  ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path));
  if (durable) RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL;"));
  std::unique_ptr<UploadStore> us(new UploadStore(std::move(db)));
  RETURN_IF_ERROR(us->Prepare());
  return us;
}

Status UploadStore::Prepare() {
  RETURN_IF_ERROR(db_->Exec(
      "CREATE TABLE IF NOT EXISTS mpu_uploads ("
      " upload_id TEXT NOT NULL PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL,"
      " initiated_ns INTEGER NOT NULL, content_type TEXT NOT NULL, user_meta BLOB NOT NULL,"
      " checksum_algorithm TEXT NOT NULL, checksum_type INTEGER NOT NULL,"
      " state INTEGER NOT NULL, completion TEXT NOT NULL) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS mpu_uploads_by_key ON mpu_uploads (bucket, key, upload_id);"
      "CREATE TABLE IF NOT EXISTS mpu_parts ("
      " upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, file TEXT NOT NULL,"
      " etag TEXT NOT NULL, size INTEGER NOT NULL, mod_time_ns INTEGER NOT NULL,"
      " checksum BLOB NOT NULL, PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS mpu_objects ("
      " bucket TEXT NOT NULL, key BLOB NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
      " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, checksum_algorithm INTEGER NOT NULL,"
      " checksum BLOB NOT NULL, checksum_type INTEGER NOT NULL, checksum_parts INTEGER NOT NULL,"
      " part_sizes TEXT NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;"));
  const char* kUploadCols =
      "upload_id, bucket, key, initiated_ns, content_type, user_meta, checksum_algorithm,"
      " checksum_type, state, completion";
  ASSIGN_OR_RETURN(create_, db_->Prepare("INSERT INTO mpu_uploads VALUES"
                                         " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  ASSIGN_OR_RETURN(get_, db_->Prepare(std::string("SELECT ") + kUploadCols +
                                      " FROM mpu_uploads WHERE upload_id=?1"));
  ASSIGN_OR_RETURN(get_part_file_, db_->Prepare("SELECT file FROM mpu_parts WHERE upload_id=?1"
                                                " AND part_number=?2"));
  ASSIGN_OR_RETURN(put_part_, db_->Prepare("INSERT OR REPLACE INTO mpu_parts VALUES"
                                           " (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  ASSIGN_OR_RETURN(parts_, db_->Prepare("SELECT part_number, file, etag, size, mod_time_ns,"
                                        " checksum FROM mpu_parts WHERE upload_id=?1 AND"
                                        " part_number>?2 ORDER BY part_number LIMIT ?3"));
  ASSIGN_OR_RETURN(complete_, db_->Prepare("UPDATE mpu_uploads SET state=1, completion=?2"
                                           " WHERE upload_id=?1"));
  ASSIGN_OR_RETURN(del_parts_, db_->Prepare("DELETE FROM mpu_parts WHERE upload_id=?1"));
  ASSIGN_OR_RETURN(del_upload_, db_->Prepare("DELETE FROM mpu_uploads WHERE upload_id=?1"));
  ASSIGN_OR_RETURN(list_, db_->Prepare(std::string("SELECT ") + kUploadCols +
                                       " FROM mpu_uploads WHERE bucket=?1 AND key>=?2 AND"
                                       " state=0 ORDER BY key, upload_id"));
  ASSIGN_OR_RETURN(prune_, db_->Prepare("DELETE FROM mpu_uploads WHERE state=1 AND"
                                        " initiated_ns<?1"));
  ASSIGN_OR_RETURN(bucket_ids_, db_->Prepare("SELECT upload_id, state FROM mpu_uploads"
                                             " WHERE bucket=?1"));
  ASSIGN_OR_RETURN(del_bucket_uploads_, db_->Prepare("DELETE FROM mpu_uploads WHERE bucket=?1"));
  ASSIGN_OR_RETURN(del_bucket_layouts_, db_->Prepare("DELETE FROM mpu_objects WHERE bucket=?1"));
  ASSIGN_OR_RETURN(put_layout_, db_->Prepare("INSERT OR REPLACE INTO mpu_objects VALUES"
                                             " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  ASSIGN_OR_RETURN(get_layout_,
                   db_->Prepare("SELECT dev, ino, size, mtime_ns, checksum_algorithm, checksum,"
                                " checksum_type, checksum_parts, part_sizes FROM mpu_objects"
                                " WHERE bucket=?1 AND key=?2"));
  return Status::Ok();
}

namespace {

// Runs a bound statement to completion and resets it, whatever happens.
Status RunStmt(SqliteStmt& s) {
  Status st = s.Run();
  s.Reset();
  return st;
}

}  // namespace

Status UploadStore::Create(const UploadRecord& rec) {
  std::lock_guard<std::mutex> l(mu_);
  SqliteStmt& s = *create_;
  s.Reset();
  s.Bind(1, rec.upload.upload_id);
  s.Bind(2, rec.upload.bucket);
  s.BindBlob(3, rec.upload.key);
  s.Bind(4, rec.upload.initiated_ns);
  s.Bind(5, rec.content_type);
  s.BindBlob(6, EncodeUserMeta(rec.user_meta));
  s.Bind(7, rec.upload.checksum_algorithm);
  s.Bind(8, int64_t(rec.upload.checksum_type));
  s.Bind(9, int64_t(rec.state));
  s.Bind(10, rec.completion);
  return RunStmt(s);
}

Result<UploadRecord> UploadStore::ReadUpload(SqliteStmt& s) {
  UploadRecord r;
  r.upload.upload_id = s.Text(0);
  r.upload.bucket = s.Text(1);
  r.upload.key = s.Text(2);
  r.upload.initiated_ns = s.Int(3);
  r.content_type = s.Text(4);
  r.user_meta = DecodeUserMeta(s.Text(5));
  r.upload.checksum_algorithm = s.Text(6);
  const int64_t t = s.Int(7);
  if (t < 0 || t > int64_t(ChecksumType::kFullObject)) {
    return Status(Code::kCorruption, "upload " + r.upload.upload_id + ": checksum type " +
                                         std::to_string(t) + " is unknown");
  }
  r.upload.checksum_type = ChecksumType(t);
  r.state = s.Int(8) == 1 ? UploadState::kCompleted : UploadState::kOpen;
  r.completion = s.Text(9);
  return r;
}

Result<std::optional<UploadRecord>> UploadStore::Get(const std::string& upload_id) {
  std::lock_guard<std::mutex> l(mu_);
  SqliteStmt& s = *get_;
  s.Reset();
  s.Bind(1, upload_id);
  auto row = s.Step();
  if (!row.ok() || !*row) {
    s.Reset();
    if (!row.ok()) return row.status();
    return std::optional<UploadRecord>();
  }
  auto rec = ReadUpload(s);
  s.Reset();
  if (!rec.ok()) return rec.status();
  return std::optional<UploadRecord>(std::move(*rec));
}

Result<std::string> UploadStore::PutPart(const std::string& upload_id, const PartRecord& p) {
  std::lock_guard<std::mutex> l(mu_);
  std::string old;
  {
    SqliteStmt& s = *get_part_file_;
    s.Reset();
    s.Bind(1, upload_id);
    s.Bind(2, int64_t(p.part_number));
    auto row = s.Step();
    if (row.ok() && *row) old = s.Text(0);
    s.Reset();
    if (!row.ok()) return row.status();
  }
  SqliteStmt& s = *put_part_;
  s.Reset();
  s.Bind(1, upload_id);
  s.Bind(2, int64_t(p.part_number));
  s.Bind(3, p.file);
  s.Bind(4, p.etag);
  s.Bind(5, int64_t(p.size));
  s.Bind(6, p.mod_time_ns);
  s.BindBlob(7, p.checksum);
  RETURN_IF_ERROR(RunStmt(s));
  return old;
}

Result<std::vector<PartRecord>> UploadStore::Parts(const std::string& upload_id, int after,
                                                   int limit) {
  std::lock_guard<std::mutex> l(mu_);
  SqliteStmt& s = *parts_;
  s.Reset();
  s.Bind(1, upload_id);
  s.Bind(2, int64_t(after));
  s.Bind(3, int64_t(limit <= 0 ? -1 : limit));
  std::vector<PartRecord> out;
  for (;;) {
    auto row = s.Step();
    if (!row.ok()) {
      s.Reset();
      return row.status();
    }
    if (!*row) break;
    PartRecord p;
    p.part_number = int(s.Int(0));
    p.file = s.Text(1);
    p.etag = s.Text(2);
    p.size = uint64_t(s.Int(3));
    p.mod_time_ns = s.Int(4);
    p.checksum = s.Text(5);
    out.push_back(std::move(p));
  }
  s.Reset();
  return out;
}

// Runs the statements of `body` in one transaction: all of them or none.
Status UploadStore::Transaction(const std::function<Status()>& body) {
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE;"));
  Status st = body();
  if (!st.ok()) {
    db_->Exec("ROLLBACK;").IgnoreError();
    return st;
  }
  return db_->Exec("COMMIT;");
}

Status UploadStore::MarkCompleted(const std::string& upload_id, const std::string& completion) {
  std::lock_guard<std::mutex> l(mu_);
  return Transaction([&] {
    complete_->Reset();
    complete_->Bind(1, upload_id);
    complete_->Bind(2, completion);
    RETURN_IF_ERROR(RunStmt(*complete_));
    del_parts_->Reset();
    del_parts_->Bind(1, upload_id);
    return RunStmt(*del_parts_);
  });
}

Status UploadStore::Delete(const std::string& upload_id) {
  std::lock_guard<std::mutex> l(mu_);
  return Transaction([&] {
    del_parts_->Reset();
    del_parts_->Bind(1, upload_id);
    RETURN_IF_ERROR(RunStmt(*del_parts_));
    del_upload_->Reset();
    del_upload_->Bind(1, upload_id);
    return RunStmt(*del_upload_);
  });
}

Status UploadStore::ListOpen(const std::string& bucket, const std::string& from_key,
                             const std::function<bool(const UploadRecord&)>& visit) {
  std::lock_guard<std::mutex> l(mu_);
  SqliteStmt& s = *list_;
  s.Reset();
  s.Bind(1, bucket);
  s.BindBlob(2, from_key);
  for (;;) {
    auto row = s.Step();
    if (!row.ok()) {
      s.Reset();
      return row.status();
    }
    if (!*row) break;
    auto rec = ReadUpload(s);
    if (!rec.ok()) {
      s.Reset();
      return rec.status();
    }
    if (!visit(*rec)) break;
  }
  s.Reset();
  return Status::Ok();
}

Result<std::vector<std::string>> UploadStore::DeleteBucket(const std::string& bucket) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> ids, open;
  {
    SqliteStmt& s = *bucket_ids_;
    s.Reset();
    s.Bind(1, bucket);
    for (;;) {
      auto row = s.Step();
      if (!row.ok()) {
        s.Reset();
        return row.status();
      }
      if (!*row) break;
      ids.push_back(s.Text(0));
      if (s.Int(1) == int64_t(UploadState::kOpen)) open.push_back(ids.back());
    }
    s.Reset();
  }
  RETURN_IF_ERROR(Transaction([&] {
    for (const std::string& id : ids) {
      del_parts_->Reset();
      del_parts_->Bind(1, id);
      RETURN_IF_ERROR(RunStmt(*del_parts_));
    }
    del_bucket_uploads_->Reset();
    del_bucket_uploads_->Bind(1, bucket);
    RETURN_IF_ERROR(RunStmt(*del_bucket_uploads_));
    del_bucket_layouts_->Reset();
    del_bucket_layouts_->Bind(1, bucket);
    return RunStmt(*del_bucket_layouts_);
  }));
  return open;
}

Status UploadStore::PruneCompleted(int64_t before_ns) {
  std::lock_guard<std::mutex> l(mu_);
  prune_->Reset();
  prune_->Bind(1, before_ns);
  return RunStmt(*prune_);
}

Status UploadStore::PutObjectLayout(const std::string& bucket, const std::string& key,
                                    const MultipartObjectRecord& rec) {
  std::string sizes;
  for (uint64_t v : rec.part_sizes) {
    if (!sizes.empty()) sizes += ',';
    sizes += std::to_string(v);
  }
  std::lock_guard<std::mutex> l(mu_);
  SqliteStmt& s = *put_layout_;
  s.Reset();
  s.Bind(1, bucket);
  s.BindBlob(2, key);
  s.Bind(3, int64_t(rec.stamp.dev));
  s.Bind(4, int64_t(rec.stamp.ino));
  s.Bind(5, int64_t(rec.stamp.size));
  s.Bind(6, rec.stamp.mtime_ns);
  s.Bind(7, int64_t(rec.checksum.algorithm));
  s.BindBlob(8, rec.checksum.raw());
  s.Bind(9, int64_t(rec.checksum_type));
  s.Bind(10, int64_t(rec.checksum_parts));
  s.Bind(11, sizes);
  return RunStmt(s);
}

Result<std::optional<MultipartObjectRecord>> UploadStore::GetObjectLayout(const std::string& bucket,
                                                                          const std::string& key,
                                                                          const FileStamp& file) {
  std::lock_guard<std::mutex> l(mu_);
  SqliteStmt& s = *get_layout_;
  s.Reset();
  s.Bind(1, bucket);
  s.BindBlob(2, key);
  auto row = s.Step();
  if (!row.ok() || !*row) {
    s.Reset();
    if (!row.ok()) return row.status();
    return std::optional<MultipartObjectRecord>();
  }
  MultipartObjectRecord r;
  r.stamp.dev = uint64_t(s.Int(0));
  r.stamp.ino = uint64_t(s.Int(1));
  r.stamp.size = uint64_t(s.Int(2));
  r.stamp.mtime_ns = s.Int(3);
  const int64_t alg = s.Int(4);
  const std::string raw = s.Text(5);
  const int64_t type = s.Int(6);
  r.checksum_parts = uint32_t(s.Int(7));
  const std::string sizes = s.Text(8);
  s.Reset();
  if (r.stamp.dev != file.dev || r.stamp.ino != file.ino || r.stamp.size != file.size ||
      r.stamp.mtime_ns != file.mtime_ns) {
    return std::optional<MultipartObjectRecord>();
  }
  if (alg < 0 || alg > int64_t(kLastChecksumAlgorithm) || type < 0 ||
      type > int64_t(ChecksumType::kFullObject) ||
      raw.size() != DigestLength(ChecksumAlgorithm(alg))) {
    return Status(Code::kCorruption, bucket + "/" + key + ": multipart layout record is damaged");
  }
  r.checksum.algorithm = ChecksumAlgorithm(alg);
  r.checksum.len = uint8_t(raw.size());
  std::copy(raw.begin(), raw.end(), r.checksum.bytes.begin());
  r.checksum_type = ChecksumType(type);
  for (size_t pos = 0; pos < sizes.size();) {
    size_t end = sizes.find(',', pos);
    if (end == std::string::npos) end = sizes.size();
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(sizes.data() + pos, sizes.data() + end, v);
    if (ec != std::errc() || p != sizes.data() + end) {
      return Status(Code::kCorruption, bucket + "/" + key + ": multipart part sizes are damaged");
    }
    r.part_sizes.push_back(v);
    pos = end + 1;
  }
  return std::optional<MultipartObjectRecord>(std::move(r));
}

// "digest etag size mtime checksum", space-separated (none of them holds a space).
std::string EncodeCompletion(const Completion& c) {
  return c.parts_digest + " " + c.etag + " " + std::to_string(c.size) + " " +
         std::to_string(c.mod_time_ns) + " " + (c.checksum_b64.empty() ? "-" : c.checksum_b64);
}

Result<Completion> DecodeCompletion(const std::string& s) {
  std::vector<std::string> f;
  for (size_t pos = 0; pos <= s.size();) {
    size_t end = s.find(' ', pos);
    if (end == std::string::npos) end = s.size();
    f.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  if (f.size() != 5) return Status(Code::kCorruption, "a completed upload's record is damaged");
  Completion c;
  c.parts_digest = f[0];
  c.etag = f[1];
  auto num = [](const std::string& t, auto* v) {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
    return ec == std::errc() && p == t.data() + t.size();
  };
  if (!num(f[2], &c.size) || !num(f[3], &c.mod_time_ns)) {
    return Status(Code::kCorruption, "a completed upload's record is damaged");
  }
  c.checksum_b64 = f[4] == "-" ? "" : f[4];
  return c;
}

}  // namespace cairn::plain
