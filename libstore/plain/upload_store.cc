#include "libstore/plain/upload_store.h"

#include <algorithm>
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
      " checksum BLOB NOT NULL, ino INTEGER NOT NULL DEFAULT 0,"
      " ctime_ns INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (upload_id, part_number))"
      " WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS mpu_objects ("
      " bucket TEXT NOT NULL, key BLOB NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
      " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, checksum_algorithm INTEGER NOT NULL,"
      " checksum BLOB NOT NULL, checksum_type INTEGER NOT NULL, checksum_parts INTEGER NOT NULL,"
      " part_sizes TEXT NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;"));
  // A meta.db made before parts were stamped with their inode and ctime gains the two columns
  // (0: not recorded; such a part is checked by size and mtime only).
  {
    ASSIGN_OR_RETURN(auto has,
                     db_->Prepare("SELECT 1 FROM pragma_table_info('mpu_parts') WHERE name='ctime_ns'"));
    ASSIGN_OR_RETURN(bool found, has->Step());
    has->Reset();
    if (!found) {
      RETURN_IF_ERROR(db_->Exec(
          "ALTER TABLE mpu_parts ADD COLUMN ino INTEGER NOT NULL DEFAULT 0;"
          "ALTER TABLE mpu_parts ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;"));
    }
  }
  // The speculative assembly's columns (an older meta.db gains them: nothing assembled).
  {
    ASSIGN_OR_RETURN(auto has, db_->Prepare("SELECT 1 FROM pragma_table_info('mpu_parts')"
                                            " WHERE name='assembled'"));
    ASSIGN_OR_RETURN(bool found, has->Step());
    has->Reset();
    if (!found) {
      RETURN_IF_ERROR(db_->Exec(
          "ALTER TABLE mpu_parts ADD COLUMN assembled TEXT NOT NULL DEFAULT '';"
          "ALTER TABLE mpu_uploads ADD COLUMN asm_part_size INTEGER NOT NULL DEFAULT 0;"));
    }
  }
  const char* kUploadCols =
      "upload_id, bucket, key, initiated_ns, content_type, user_meta, checksum_algorithm,"
      " checksum_type, state, completion, asm_part_size";
  ASSIGN_OR_RETURN(create_, db_->Prepare(std::string("INSERT INTO mpu_uploads (") + kUploadCols +
                                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                                         " ?11)"));
  ASSIGN_OR_RETURN(get_, db_->Prepare(std::string("SELECT ") + kUploadCols +
                                      " FROM mpu_uploads WHERE upload_id=?1"));
  ASSIGN_OR_RETURN(get_part_file_, db_->Prepare("SELECT file FROM mpu_parts WHERE upload_id=?1"
                                                " AND part_number=?2"));
  ASSIGN_OR_RETURN(put_part_, db_->Prepare("INSERT OR REPLACE INTO mpu_parts (upload_id,"
                                           " part_number, file, etag, size, mod_time_ns,"
                                           " checksum, ino, ctime_ns, assembled) VALUES"
                                           " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  ASSIGN_OR_RETURN(parts_, db_->Prepare("SELECT part_number, file, etag, size, mod_time_ns,"
                                        " checksum, ino, ctime_ns, assembled FROM mpu_parts WHERE"
                                        " upload_id=?1 AND"
                                        " part_number>?2 ORDER BY part_number LIMIT ?3"));
  ASSIGN_OR_RETURN(complete_, db_->Prepare("UPDATE mpu_uploads SET state=1, completion=?2"
                                           " WHERE upload_id=?1"));
  ASSIGN_OR_RETURN(del_parts_, db_->Prepare("DELETE FROM mpu_parts WHERE upload_id=?1"));
  ASSIGN_OR_RETURN(del_upload_, db_->Prepare("DELETE FROM mpu_uploads WHERE upload_id=?1"));
  ASSIGN_OR_RETURN(list_, db_->Prepare(std::string("SELECT ") + kUploadCols +
                                       " FROM mpu_uploads WHERE bucket=?1 AND key>=?2 AND"
                                       " state=0 ORDER BY key, upload_id"));
  ASSIGN_OR_RETURN(stale_, db_->Prepare(std::string("SELECT ") + kUploadCols +
                                        " FROM mpu_uploads WHERE state=0 AND initiated_ns<?1"));
  ASSIGN_OR_RETURN(prune_, db_->Prepare("DELETE FROM mpu_uploads WHERE state=1 AND"
                                        " initiated_ns<?1"));
  ASSIGN_OR_RETURN(bucket_ids_, db_->Prepare("SELECT upload_id, state FROM mpu_uploads"
                                             " WHERE bucket=?1"));
  ASSIGN_OR_RETURN(del_bucket_uploads_, db_->Prepare("DELETE FROM mpu_uploads WHERE bucket=?1"));
  ASSIGN_OR_RETURN(del_bucket_layouts_, db_->Prepare("DELETE FROM mpu_objects WHERE bucket=?1"));
  ASSIGN_OR_RETURN(del_layout_,
                   db_->Prepare("DELETE FROM mpu_objects WHERE bucket=?1 AND key=?2"));
  ASSIGN_OR_RETURN(put_layout_, db_->Prepare("INSERT OR REPLACE INTO mpu_objects VALUES"
                                             " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  ASSIGN_OR_RETURN(get_layout_,
                   db_->Prepare("SELECT dev, ino, size, mtime_ns, checksum_algorithm, checksum,"
                                " checksum_type, checksum_parts, part_sizes FROM mpu_objects"
                                " WHERE bucket=?1 AND key=?2"));
  ASSIGN_OR_RETURN(set_asm_size_, db_->Prepare("UPDATE mpu_uploads SET asm_part_size=?2"
                                                " WHERE upload_id=?1 AND asm_part_size=0"));
  ASSIGN_OR_RETURN(mark_asm_, db_->Prepare("UPDATE mpu_parts SET assembled=?4 WHERE upload_id=?1"
                                           " AND part_number=?2 AND file=?3"));
  ASSIGN_OR_RETURN(clear_asm_, db_->Prepare("UPDATE mpu_parts SET assembled='' WHERE"
                                            " upload_id=?1"));
  return Status::Ok();
}

namespace {

// A value bound as a BLOB (keys: any bytes, compared bytewise).
struct Blob {
  std::string_view bytes;
};
void BindOne(SqliteStmt& s, int i, int64_t v) { s.Bind(i, v); }
void BindOne(SqliteStmt& s, int i, const std::string& v) { s.Bind(i, v); }
void BindOne(SqliteStmt& s, int i, Blob v) { s.BindBlob(i, v.bytes); }

// Resets s and binds args to ?1, ?2, ... in order.
template <typename... A>
void BindAll(SqliteStmt& s, const A&... args) {
  s.Reset();
  int i = 0;
  (BindOne(s, ++i, args), ...);
}

// Binds args, runs the statement to completion and resets it, whatever happens.
template <typename... A>
Status RunStmt(SqliteStmt& s, const A&... args) {
  BindAll(s, args...);
  Status st = s.Run();
  s.Reset();
  return st;
}

// Binds args, then calls row(s) for each row the statement yields until it returns false (or an
// error, which is returned); resets s whatever happens.
template <typename F, typename... A>
Status EachRow(SqliteStmt& s, F&& row, const A&... args) {
  BindAll(s, args...);
  Status st;
  for (;;) {
    auto more = s.Step();
    if (more.ok() && *more) more = row(s);
    if (!more.ok()) st = more.status();
    if (!more.ok() || !*more) break;
  }
  s.Reset();
  return st;
}

}  // namespace

Status UploadStore::Create(const UploadRecord& rec) {
  const std::string meta = EncodeUserMeta(rec.user_meta);
  std::lock_guard<std::mutex> l(mu_);
  return RunStmt(*create_, rec.upload.upload_id, rec.upload.bucket,
                 Blob{rec.upload.key}, rec.upload.initiated_ns, rec.content_type,
                 Blob{meta}, rec.upload.checksum_algorithm,
                 int64_t(rec.upload.checksum_type), int64_t(rec.state),
                 rec.completion, int64_t(rec.assembly_part_size));
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
  r.assembly_part_size = uint64_t(std::max<int64_t>(0, s.Int(10)));
  return r;
}

Result<std::optional<UploadRecord>> UploadStore::Get(const std::string& upload_id) {
  std::lock_guard<std::mutex> l(mu_);
  std::optional<UploadRecord> out;
  RETURN_IF_ERROR(EachRow(
      *get_,
      [&](SqliteStmt& s) -> Result<bool> {
        ASSIGN_OR_RETURN(out, ReadUpload(s));
        return false;
      },
      upload_id));
  return out;
}

Result<std::string> UploadStore::PutPart(const std::string& upload_id, const PartRecord& p) {
  std::lock_guard<std::mutex> l(mu_);
  std::string old;
  const std::string& id = upload_id;
  RETURN_IF_ERROR(EachRow(
      *get_part_file_,
      [&](SqliteStmt& s) -> Result<bool> {
        old = s.Text(0);
        return false;
      },
      id, int64_t(p.part_number)));
  RETURN_IF_ERROR(RunStmt(*put_part_, id, int64_t(p.part_number), p.file,
                          p.etag, int64_t(p.size), p.mod_time_ns,
                          Blob{p.checksum}, int64_t(p.ino), p.ctime_ns, p.assembled));
  return old;
}

Result<std::vector<PartRecord>> UploadStore::Parts(const std::string& upload_id, int after,
                                                   int limit) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<PartRecord> out;
  auto read = [&](SqliteStmt& s) -> Result<bool> {
    PartRecord p;
    p.part_number = int(s.Int(0));
    p.file = s.Text(1);
    p.etag = s.Text(2);
    p.size = uint64_t(s.Int(3));
    p.mod_time_ns = s.Int(4);
    p.checksum = s.Text(5);
    p.ino = uint64_t(s.Int(6));
    p.ctime_ns = s.Int(7);
    p.assembled = s.Text(8);
    out.push_back(std::move(p));
    return true;
  };
  RETURN_IF_ERROR(EachRow(*parts_, read, upload_id, int64_t(after),
                          int64_t(limit <= 0 ? -1 : limit)));
  return out;
}

Result<uint64_t> UploadStore::SetAssemblyPartSize(const std::string& upload_id, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  RETURN_IF_ERROR(RunStmt(*set_asm_size_, upload_id, int64_t(size)));
  uint64_t out = 0;
  RETURN_IF_ERROR(EachRow(
      *get_,
      [&](SqliteStmt& s) -> Result<bool> {
        out = uint64_t(std::max<int64_t>(0, s.Int(10)));
        return false;
      },
      upload_id));
  return out;
}

Result<std::string> UploadStore::PartFile(const std::string& upload_id, int part_number) {
  std::lock_guard<std::mutex> l(mu_);
  std::string file;
  RETURN_IF_ERROR(EachRow(
      *get_part_file_,
      [&](SqliteStmt& s) -> Result<bool> {
        file = s.Text(0);
        return false;
      },
      upload_id, int64_t(part_number)));
  return file;
}

Status UploadStore::MarkAssembled(const std::string& upload_id, int part_number,
                                  const std::string& file, const std::string& session) {
  std::lock_guard<std::mutex> l(mu_);
  return RunStmt(*mark_asm_, upload_id, int64_t(part_number), file, session);
}

Status UploadStore::ClearAssembled(const std::string& upload_id) {
  std::lock_guard<std::mutex> l(mu_);
  return RunStmt(*clear_asm_, upload_id);
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
    RETURN_IF_ERROR(RunStmt(*complete_, upload_id, completion));
    return RunStmt(*del_parts_, upload_id);
  });
}

Status UploadStore::Delete(const std::string& upload_id) {
  std::lock_guard<std::mutex> l(mu_);
  return Transaction([&] {
    RETURN_IF_ERROR(RunStmt(*del_parts_, upload_id));
    return RunStmt(*del_upload_, upload_id);
  });
}

Status UploadStore::ListOpen(const std::string& bucket, const std::string& from_key,
                             const std::function<bool(const UploadRecord&)>& visit) {
  std::lock_guard<std::mutex> l(mu_);
  return EachRow(
      *list_,
      [&](SqliteStmt& s) -> Result<bool> {
        ASSIGN_OR_RETURN(UploadRecord rec, ReadUpload(s));
        return visit(rec);
      },
      bucket, Blob{from_key});
}

Result<std::vector<std::string>> UploadStore::DeleteBucket(const std::string& bucket) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> ids, open;
  RETURN_IF_ERROR(EachRow(
      *bucket_ids_,
      [&](SqliteStmt& s) -> Result<bool> {
        ids.push_back(s.Text(0));
        if (s.Int(1) == int64_t(UploadState::kOpen)) open.push_back(ids.back());
        return true;
      },
      bucket));
  RETURN_IF_ERROR(Transaction([&] {
    for (const std::string& id : ids) RETURN_IF_ERROR(RunStmt(*del_parts_, id));
    RETURN_IF_ERROR(RunStmt(*del_bucket_uploads_, bucket));
    return RunStmt(*del_bucket_layouts_, bucket);
  }));
  return open;
}

Result<std::vector<UploadRecord>> UploadStore::OpenBefore(int64_t before_ns) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<UploadRecord> out;
  RETURN_IF_ERROR(EachRow(
      *stale_,
      [&](SqliteStmt& s) -> Result<bool> {
        ASSIGN_OR_RETURN(UploadRecord rec, ReadUpload(s));
        out.push_back(std::move(rec));
        return true;
      },
      before_ns));
  return out;
}

Status UploadStore::PruneCompleted(int64_t before_ns) {
  std::lock_guard<std::mutex> l(mu_);
  return RunStmt(*prune_, before_ns);
}

Status UploadStore::PutObjectLayout(const std::string& bucket, const std::string& key,
                                    const MultipartObjectRecord& rec) {
  std::string sizes;
  for (uint64_t v : rec.part_sizes) {
    if (!sizes.empty()) sizes += ',';
    sizes += std::to_string(v);
  }
  std::lock_guard<std::mutex> l(mu_);
  return RunStmt(*put_layout_, bucket, Blob{key}, int64_t(rec.stamp.dev),
                 int64_t(rec.stamp.ino), int64_t(rec.stamp.size), rec.stamp.mtime_ns,
                 int64_t(rec.checksum.algorithm), Blob{rec.checksum.raw()},
                 int64_t(rec.checksum_type), int64_t(rec.checksum_parts), sizes);
}

Status UploadStore::DeleteObjectLayout(const std::string& bucket, const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  return RunStmt(*del_layout_, bucket, Blob{key});
}

Result<std::optional<MultipartObjectRecord>> UploadStore::GetObjectLayout(const std::string& bucket,
                                                                          const std::string& key,
                                                                          const FileStamp& file) {
  MultipartObjectRecord r;
  int64_t alg = 0, type = 0;
  std::string raw, sizes;
  bool found = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    RETURN_IF_ERROR(EachRow(
        *get_layout_,
        [&](SqliteStmt& s) -> Result<bool> {
          found = true;
          r.stamp.dev = uint64_t(s.Int(0));
          r.stamp.ino = uint64_t(s.Int(1));
          r.stamp.size = uint64_t(s.Int(2));
          r.stamp.mtime_ns = s.Int(3);
          alg = s.Int(4);
          raw = s.Text(5);
          type = s.Int(6);
          r.checksum_parts = uint32_t(s.Int(7));
          sizes = s.Text(8);
          return false;
        },
        bucket, Blob{key}));
  }
  if (!found) return std::optional<MultipartObjectRecord>();
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
