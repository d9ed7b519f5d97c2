// UploadStore: the state of PlainDir's multipart uploads, in SQLite (sqlite_db.h), so that an
// upload survives a restart: the uploads (key, content type, metadata, checksum algorithm and
// type, open or completed), the parts each holds (the staged file under .cairn/uploads, ETag,
// size, checksum), and for each completed multipart object its checksum and part sizes (what the
// object's ETag alone does not say).
//
// Its tables (mpu_uploads, mpu_parts, mpu_objects) live in the same database file as MetaStore's
// objects table, through a connection of their own; they are separate tables so that neither
// schema depends on the other. The connection runs with synchronous=FULL when `durable`: an
// acknowledged part or upload is on disk, not only in the WAL's page cache.
//
// Thread safety: every method may be called concurrently (one mutex around the connection).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "libstore/object/object_store.h"
#include "libstore/plain/meta_store.h"
#include "libstore/plain/sqlite_db.h"

namespace cairn::plain {

enum class UploadState { kOpen = 0, kCompleted = 1 };

struct UploadRecord {
  MultipartUpload upload;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  UploadState state = UploadState::kOpen;
  // kCompleted: the answer Complete gave (EncodeCompletion), for a retried Complete.
  std::string completion;
  // The part size S of the upload's assembly (the first part size >= 5 MiB declared or staged):
  // part n is copied to offset (n-1)*S of the assembly file as it arrives. 0: none yet.
  uint64_t assembly_part_size = 0;
};

struct PartRecord {
  int part_number = 0;
  // The staged file, a path on the volume; or the upload's assembly file, when the part went
  // straight into its slot there (offset (n-1)*S, S the upload's assembly_part_size).
  std::string file;
  std::string etag;  // MD5 hex
  uint64_t size = 0;
  int64_t mod_time_ns = 0;
  std::string checksum;  // raw bytes of the upload's algorithm; "" when it has none
  // The staged file's inode and ctime once in place (0: not recorded, by an older cairn). With
  // size and mtime they tell whether the file is still the one uploaded: a rewrite in place that
  // keeps the size and puts the mtime back still changes the ctime.
  uint64_t ino = 0;
  int64_t ctime_ns = 0;
  // The session (PlainDir instance) that copied this very staged file into the upload's assembly
  // file, at its slot, or wrote the slot-held part; "" when not copied. Replacing the part clears
  // it (a new row).
  std::string assembled;
};

// A completed multipart object's layout, stamped with its file (dev, ino, size, mtime).
struct MultipartObjectRecord {
  FileStamp stamp;
  ChecksumValue checksum;  // kNone: no checksum
  ChecksumType checksum_type = ChecksumType::kNone;
  uint32_t checksum_parts = 0;
  std::vector<uint64_t> part_sizes;
};

class UploadStore {
 public:
  // Opens (creates) the tables in the database at path ("": a private in-memory one).
  static Result<std::unique_ptr<UploadStore>> Open(const std::string& path, bool durable);

  Status Create(const UploadRecord& rec);
  // nullopt when no upload has that id.
  Result<std::optional<UploadRecord>> Get(const std::string& upload_id);
  // Stores a part, replacing one of the same number; returns the file of the part it replaced
  // ("" when none), which the caller removes.
  Result<std::string> PutPart(const std::string& upload_id, const PartRecord& p);
  // Records S for the upload's assembly unless one is recorded already; returns the one in force.
  Result<uint64_t> SetAssemblyPartSize(const std::string& upload_id, uint64_t size);
  // The staged file of part `part_number` ("" when the upload has no such part).
  Result<std::string> PartFile(const std::string& upload_id, int part_number);
  // Records that session copied the staged `file` into the assembly slot of part_number, if that
  // file is still the part's (a part replaced meanwhile is left unmarked).
  Status MarkAssembled(const std::string& upload_id, int part_number, const std::string& file,
                       const std::string& session);
  // Forgets every assembled mark of the upload (its assembly file is being consumed).
  Status ClearAssembled(const std::string& upload_id);
  // Parts numbered after `after`, ascending, at most limit (<= 0: all).
  Result<std::vector<PartRecord>> Parts(const std::string& upload_id, int after, int limit);
  // Marks the upload completed with its answer and forgets its parts (in one transaction).
  Status MarkCompleted(const std::string& upload_id, const std::string& completion);
  // Forgets the upload and its parts.
  Status Delete(const std::string& upload_id);
  // Open uploads of bucket with key >= from_key, in (key, upload_id) order, until visit returns
  // false.
  Status ListOpen(const std::string& bucket, const std::string& from_key,
                  const std::function<bool(const UploadRecord&)>& visit);
  // Forgets every upload of bucket (open or completed), their parts and the bucket's multipart
  // layouts; returns the ids of the uploads that were open (their staged parts are the caller's
  // to remove).
  Result<std::vector<std::string>> DeleteBucket(const std::string& bucket);
  // Open uploads initiated before before_ns, of every bucket (what has been abandoned).
  Result<std::vector<UploadRecord>> OpenBefore(int64_t before_ns);
  // Forgets completed uploads older than before_ns (their answers are kept for retries only).
  Status PruneCompleted(int64_t before_ns);

  Status PutObjectLayout(const std::string& bucket, const std::string& key,
                         const MultipartObjectRecord& rec);
  // Forgets the layout of bucket/key (the object was deleted; a stale layout would be ignored by
  // its stamp anyway, this keeps the table from growing with deleted keys).
  Status DeleteObjectLayout(const std::string& bucket, const std::string& key);
  // The layout of bucket/key if its stamp's dev, ino, size and mtime are those of `file`.
  Result<std::optional<MultipartObjectRecord>> GetObjectLayout(const std::string& bucket,
                                                               const std::string& key,
                                                               const FileStamp& file);

 private:
  explicit UploadStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  Status Prepare();
  Result<UploadRecord> ReadUpload(SqliteStmt& s);
  Status Transaction(const std::function<Status()>& body);  // under mu_

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqliteStmt> create_, get_, put_part_, get_part_file_, parts_, complete_,
      del_parts_, del_upload_, list_, stale_, prune_, put_layout_, get_layout_, del_layout_, bucket_ids_,
      del_bucket_uploads_, del_bucket_layouts_, set_asm_size_, mark_asm_, clear_asm_;
};

// The answer of a completed upload as kept for a retried Complete: the digest of the parts list
// it was given, and the object it made.
struct Completion {
  std::string parts_digest;  // MD5 hex of the canonical parts list
  std::string etag;
  uint64_t size = 0;
  int64_t mod_time_ns = 0;
  std::string checksum_b64;  // "" when none
};
std::string EncodeCompletion(const Completion& c);
Result<Completion> DecodeCompletion(const std::string& s);

}  // namespace cairn::plain
