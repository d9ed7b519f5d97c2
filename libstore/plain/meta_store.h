// MetaStore: what PlainDir knows about its files beyond their bytes, in SQLite (sqlite_db.h):
// the content type, user metadata and checksums of objects uploaded through cairn, and the MD5 of
// any file (the hash cache), so that files which did not arrive through cairn get real MD5 ETags.
//
// Every record is stamped with the file it was made for (device, inode, size, mtime and ctime in
// nanoseconds). A record whose stamp no longer matches the file is stale: Get ignores it and
// removes it. So a file that another program rewrote, replaced or touched never shows metadata or
// an MD5 that belonged to its former content. (A directory's stamp is its device and inode only:
// its times change whenever an entry is added.)
//
// Get answers from a cache of the rows it read when nothing was committed to the database since,
// by any connection of any process (SqliteDb::ReadWalMark; for a database in memory, which no
// other process can open, a counter of this store's own writes): the answer the database would
// give, without its read transaction (two fcntl locks), lookup and mutex per GET.
//
// Thread safety: every method may be called concurrently (one mutex around the connection, one
// around the announced Puts and the completions waiting for them, one around the cache).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "libstore/object/object_store.h"
#include "libstore/plain/sqlite_db.h"
#include "libstore/volume/volume.h"

namespace cairn {

struct FileStamp {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
  // A file's stamp; a directory's is its device and inode alone.
  static FileStamp Of(const FileInfo& fi);
  // ctime_ns of a record written before its file reached its name (PlainDir writes an upload's
  // record, then renames the temp file, which keeps the inode, size and mtime but may change the
  // ctime): such a record describes the file with the same device, inode, size and mtime.
  static constexpr int64_t kCtimePending = INT64_MIN;
  // Whether a record stamped *this describes the file stamped `file` (equal, or equal but for a
  // pending ctime).
  bool Describes(const FileStamp& file) const;
};

struct ObjectRecord {
  FileStamp stamp;
  bool uploaded = false;  // written by a PUT through cairn (content type and metadata are its)
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  std::string checksums;  // the x-amz-checksum-* of an upload (EncodeChecksums); "" for none
  // 32 lowercase hex digits, or "" while unknown; for an object made by a multipart upload its
  // ETag "<hex>-<N>" (never replaced by SetMd5).
  std::string md5_hex;
};

class MetaStore {
 public:
  // Opens or creates the database at path ("": in memory, for tests and for a read-only
  // directory served without a state directory; nothing survives the process then). durable:
  // every commit reaches the disk before it returns (SQLite's synchronous=FULL: the WAL is
  // flushed at each commit), so that a PUT acknowledged with fsync on keeps its content type,
  // user metadata, checksums and ETag through a power loss; else synchronous=NORMAL (a crash of
  // the process loses nothing committed, a power loss may lose the last commits).
  static Result<std::unique_ptr<MetaStore>> Open(const std::string& path, bool durable = false);

  // The record of bucket/key when its stamp describes `stamp` (FileStamp::Describes); nullopt
  // when there is none or it is stale (a stale record is deleted on the way, unless its ctime is
  // pending: that one may be for an upload about to be renamed into place).
  Result<std::optional<ObjectRecord>> Get(const std::string& bucket, const std::string& key,
                                          const FileStamp& stamp);
  // Stores rec for bucket/key, replacing any record. The stamp completions still waiting
  // (CompleteStamp) go into the same transaction, before rec. Group commit: Puts that arrive
  // while another Put's transaction is being written (and, when durable, its WAL flushed) wait,
  // and one of them writes them all in one transaction (one set of locks, one flush for all);
  // each returns once that transaction committed, so what a returned Put stored is as durable
  // as with a transaction of its own. A batch whose transaction fails is written again one Put
  // at a time, so that a Put fails only for its own reason.
  Status Put(const std::string& bucket, const std::string& key, const ObjectRecord& rec);
  // The ctime of a record written with a pending one (kCtimePending), once its file is in place:
  // `stamp` is that file's full stamp. Written only into the record still pending for that file
  // (a later Put or SetMd5 of the key wins), and not flushed on its own even when durable: lost
  // in a power loss, the record is pending again, which still describes its file; the next
  // durable commit flushes it with its own. While a Put is announced (AnnouncePut), the UPDATE
  // waits for that Put's transaction instead of committing one of its own (one SQLite
  // transaction per PUT under concurrent uploads instead of two); otherwise it is written before
  // this returns. A failure to write it is not reported (the record stays pending).
  Status CompleteStamp(const std::string& bucket, const std::string& key, const FileStamp& stamp);
  // A Put is on its way (PlainDir::CommitTemp: after the key's lock, before the reads that precede
  // its record): completions may wait for it. Every AnnouncePut is followed by one Put with
  // announced set, or one WithdrawPut; the last of them writes whatever still waits when no other
  // Put is announced.
  void AnnouncePut();
  // previous (unless null): the record rec replaced, as it was (stale or not), or nullopt; read
  // in the same transaction, so that a caller whose change fails can put it back exactly.
  Status Put(const std::string& bucket, const std::string& key, const ObjectRecord& rec,
             bool announced, std::optional<ObjectRecord>* previous = nullptr);
  void WithdrawPut() noexcept;
  // Completions waiting for an announced Put (tests).
  size_t WaitingCompletions();
  // Test seam: hook (unless empty) runs at the start of each batch's write (under the
  // connection's lock, before any statement) with the batch's size; what it throws fails that
  // batch as a failed allocation inside it would: each of its Puts returns an error, nothing of
  // it is written, and the next batch is led as usual.
  void SetBatchHookForTest(std::function<void(size_t)> hook);
  // Puts queued for the next batch (tests).
  size_t QueuedPutsForTest();
  // Records the MD5 of the file with `stamp`: into its record when that record is current, else a
  // fresh record holding only the MD5 (a stale one is replaced).
  Status SetMd5(const std::string& bucket, const std::string& key, const FileStamp& stamp,
                const std::string& md5_hex);
  Status Delete(const std::string& bucket, const std::string& key);
  // Every record of a bucket.
  Status DeleteBucket(const std::string& bucket);
  // How many records there are (tests).
  Result<int64_t> Count();
  // How many transactions held the records of more than one Put (tests).
  uint64_t group_commits() const { return group_commits_.load(std::memory_order_relaxed); }
  // How many Gets the cache answered (tests).
  uint64_t cache_hits() const { return cache_hits_.load(std::memory_order_relaxed); }

  // Rows kept by the cache at most (it is emptied when full).
  static constexpr size_t kCacheRows = 4096;

 private:
  // What the cache's rows are valid for: this store's write count and the WAL mark.
  struct CacheLabel {
    uint64_t writes = 0;
    SqliteDb::WalMark wal{};
    bool operator==(const CacheLabel&) const = default;
  };
  using CachedRow = std::shared_ptr<const std::optional<ObjectRecord>>;

  MetaStore(std::unique_ptr<SqliteDb> db, bool durable, bool in_memory)
      : durable_(durable), in_memory_(in_memory), db_(std::move(db)) {}
  Status Prepare();
  Status PutLocked(const std::string& bucket, const std::string& key, const ObjectRecord& rec);
  // One Put waiting for its batch (Put's group commit).
  struct PutRequest {
    const std::string* bucket = nullptr;
    const std::string* key = nullptr;
    const ObjectRecord* rec = nullptr;
    std::optional<ObjectRecord>* previous = nullptr;
    bool announced = false;
    Status result;
    bool decided = false;  // result is set (by its batch, or its own retry after the batch failed)
    // How its thread is woken: its batch is done, or it leads the next one. Shared, so that the
    // thread that wakes it may still touch it after the Put returned.
    struct Wake {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false, lead = false;  // guarded by mu
    };
    std::shared_ptr<Wake> wake;
  };
  // Writes a batch of Puts (one or more) in one transaction with the waiting completions and sets
  // each one's result; on a failure of a batch of several, each one again on its own. A lone Put
  // with no completion waiting and no previous record to read is the statement's own transaction.
  void PutBatchLocked(std::span<PutRequest* const> batch);
  // PutBatchLocked, and when it throws: the batch rolled back and each of its Puts failed (so
  // that a batch that throws neither escapes its leader, which would leave the lead taken and
  // every later Put waiting for it, nor leaves its other Puts waiting for a result).
  void WriteBatchLocked(std::span<PutRequest* const> batch) noexcept;
  // The row of bucket/key as stored, whatever its stamp.
  Result<std::optional<ObjectRecord>> RowLocked(const std::string& bucket, const std::string& key);
  Result<std::optional<ObjectRecord>> GetLocked(const std::string& bucket, const std::string& key,
                                                const FileStamp& stamp, CachedRow* row = nullptr);
  Status DeleteLocked(const std::string& bucket, const std::string& key);
  // After every statement that may have changed rows (under mu_).
  void Wrote() { writes_.fetch_add(1, std::memory_order_acq_rel); }
  // The label of what the database holds now; false when it cannot be known without asking it.
  bool Label(CacheLabel* out) const;
  // Runs the UPDATE of one completion (no transaction of its own).
  Status RunComplete(const std::string& bucket, const std::string& key, const FileStamp& stamp);
  struct Completion {
    std::string bucket, key;
    FileStamp stamp;
  };
  // Writes completions taken from waiting_ in a transaction of their own, not flushed (see
  // CompleteStamp); they are dropped either way (the records stay pending on failure).
  Status FlushCompletionsLocked(std::vector<Completion> batch);
  // One announcement fewer; when none is left, the completions that waited for it, taken out of
  // waiting_ for the caller to write (under pending_mu_ only).
  std::vector<Completion> EndAnnounced() noexcept;
  // After an announced Put (under mu_): EndAnnounced, and what it hands over written.
  void EndAnnouncedLocked() noexcept;
  // FlushCompletionsLocked, whose throw drops the completions as its failure does.
  void FlushCompletionsNoThrowLocked(std::vector<Completion> batch) noexcept;
  // Back to synchronous=FULL after FlushCompletionsLocked lowered it (durable_); aborts when that
  // cannot be done.
  void RestoreFullSyncLocked() noexcept;

  const bool durable_;
  const bool in_memory_;
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqliteStmt> get_, put_, del_, del_bucket_, count_, complete_, begin_, commit_,
      rollback_;
  std::function<void(size_t)> batch_hook_;  // SetBatchHookForTest (guarded by mu_)
  std::mutex queue_mu_;  // taken without mu_, or inside it; never mu_ inside it
  std::vector<PutRequest*> queue_;  // Puts waiting for a batch
  bool leader_ = false;             // a Put is writing a batch (guarded by queue_mu_)
  std::atomic<uint64_t> group_commits_{0};  // transactions that held more than one Put
  // The announcements and the completions waiting for them have a mutex of their own, held for
  // a moment only: an upload announcing its Put or leaving its completion does not wait for the
  // transaction that holds mu_ (under 16 concurrent small PUTs, that wait was ~3 futex sleeps
  // and wake-ups per PUT). Taken inside mu_ or alone; never mu_ inside it.
  std::mutex pending_mu_;
  int announced_ = 0;                // Puts announced and not yet made or withdrawn
  std::vector<Completion> waiting_;  // completions for the next Put's transaction
  bool cache_on_ = false;  // set once by Open
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::mutex cache_mu_;
  CacheLabel cache_label_;                            // of the rows in cache_
  std::unordered_map<std::string, CachedRow> cache_;  // "bucket/key" -> row (or none)
};

// One announced Put (MetaStore::AnnouncePut), withdrawn by the destructor unless it was made.
// Not thread-safe: one upload's.
class AnnouncedPut {
 public:
  explicit AnnouncedPut(MetaStore* ms) : ms_(ms) { ms_->AnnouncePut(); }
  ~AnnouncedPut() {
    if (ms_ != nullptr) ms_->WithdrawPut();
  }
  AnnouncedPut(const AnnouncedPut&) = delete;
  AnnouncedPut& operator=(const AnnouncedPut&) = delete;
  // MetaStore::Put with this announcement; at most once.
  Status Put(const std::string& bucket, const std::string& key, const ObjectRecord& rec,
             std::optional<ObjectRecord>* previous = nullptr) {
    MetaStore* ms = ms_;
    ms_ = nullptr;
    return ms->Put(bucket, key, rec, /*announced=*/true, previous);
  }

 private:
  MetaStore* ms_;
};

// The ETag of a file: its MD5 in hex when known, else a stable value derived from its stamp,
// 32 hex digits and a "-1" suffix, so that no client takes it for an MD5 (clients compare ETags
// without a '-' to the MD5 of what they received). Never empty. Without quotes.
std::string PlainEtag(const FileStamp& stamp, const std::string& md5_hex);

// User metadata as stored: "key\0value\0" for each pair (keys and values hold no NUL: they are
// HTTP header text), and back.
std::string EncodeUserMeta(const std::vector<std::pair<std::string, std::string>>& meta);
std::vector<std::pair<std::string, std::string>> DecodeUserMeta(const std::string& bytes);

// The checksums column: "ALGORITHM=VALUE", S3's algorithm name (checksum.h) and the value as the
// x-amz-checksum-<algorithm> header carries it (base64, then "-N" for a COMPOSITE checksum of N
// parts; without it the checksum is FULL_OBJECT), or "" when info has none. Written under the
// record's stamp like the rest of it, so it is never returned for a file that changed since.
std::string EncodeChecksums(const ObjectInfo& info);
// Fills info's checksum, checksum_type and checksum_parts from a column written by
// EncodeChecksums. "" leaves them empty (kNone); so does text this version cannot read (a later
// version's form, a damaged value): a checksum is returned only when it is known to be right.
void DecodeChecksums(const std::string& text, ObjectInfo* info);

}  // namespace cairn
