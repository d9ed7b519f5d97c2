// The bulk-transfer engine: runs a stream of object transfers (upload, download, server-side
// copy, delete) through one S3Client with `jobs` requests in flight. `cairn cp`, `cairn sync` and
// `cairn run` feed it; it holds no CLI code (no printing, no signals: the caller passes a cancel
// flag and prints from the result callback).
//
// Memory is bounded whatever the number of tasks: Submit blocks while `queue_limit` tasks wait
// (producers stream their listings or walks into it; nobody holds the whole task list), and
// bodies are never held whole: small uploads go through one reused buffer per worker, larger
// ones are read from the file with pread for each part, downloads are written as they arrive.
//
// How a task runs (per object):
//  - upload:   one PUT with Content-MD5 (no HEAD first) when the file is at most part_size; else
//              a multipart upload whose parts are taken by any idle worker (parallel parts), part
//              size grown so that no object needs more than 10,000 parts. A failed or cancelled
//              multipart upload is aborted (no parts left on the server).
//  - download: to a temp file in the target's directory (the DownloadOpener's; by default
//              ".<name>.cairn-<hex>", parent directories created), fsynced and renamed over the
//              target when the body has been checked (its directory fsynced by Finish: DirSync);
//              removed on failure or cancellation. When task.size is
//              known (from a listing) and above part_size: parallel ranged GETs pinned to the
//              ETag with If-Match, written with pwrite; each range's MD5 taken as it arrives, and
//              when they make the multipart ETag (the object's parts were cut where ours are)
//              that is the check, else the file is read back and checked against the ETag;
//              otherwise one GET (no HEAD first), checked against its ETag (an MD5 as it
//              streams; a multipart "-N" one read back from the file). A body that fails
//              its check (kCorruption) is fetched again, like any retryable failure, up to
//              object_attempts times in all.
//  - copy:     CopyObject (server-side) up to 5 GiB (multipart_copy_above; or when the size is
//              unknown); above, a multipart upload of UploadPartCopy parts, each pinned to the
//              source's ETag when known (x-amz-copy-source-if-match). A source of unknown size
//              that the server refuses to copy whole (InvalidRequest: S3 above 5 GiB) is asked
//              its size with a HEAD and copied in parts.
//  - delete:   DeleteObject.
// Every task ends in exactly one call of on_result, unless it was still queued when the cancel
// flag was seen (then it is counted in Stats::cancelled and not reported).
//
// Thread safety: Submit may be called from one producer thread (or several); on_result is called
// from worker threads one call at a time (the engine serializes them), never after Finish
// returns. stats() may be read from any thread at any time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "libstore/client/s3_client.h"
#include "libstore/common/io.h"
#include "libstore/common/status.h"

namespace cairn::s3 {

enum class TransferKind : uint8_t { kUpload, kDownload, kCopy, kDelete };
const char* Name(TransferKind k);  // "upload", "download", "copy", "delete"

struct TransferTask {
  TransferKind kind = TransferKind::kUpload;
  // upload: the file read; download: the file written.
  std::string local;
  // download and copy: the object read.
  std::string src_bucket, src_key;
  // upload, copy and delete: the object written (or deleted).
  std::string dst_bucket, dst_key;
  // The object's size when known: download and copy, from a listing (no HEAD is needed then,
  // and a large object is fetched in parallel ranges; unknown: one GET / one CopyObject);
  // upload, the file's size from a walk (for progress only: the size at open is what is sent).
  // etag: download, the listing's ETag (the ranges are pinned to it; a large object without
  // one is fetched as if its size were unknown, which learns the ETag from the first range).
  std::optional<uint64_t> size;
  std::string etag;
  std::string content_type;  // upload: sent as Content-Type when not empty
  uint64_t tag = 0;          // the caller's (a line number, an index): given back in the result
};

struct TransferResult {
  const TransferTask& task;
  Status status;       // OK, or why this object failed (named with the key)
  uint64_t bytes = 0;  // bytes of the object moved (its size when OK)
  std::string etag;    // of the object written (upload, copy) or read (download); quotes removed
};

// Counters of an engine; a consistent-enough snapshot for progress lines and summaries.
struct TransferStats {
  uint64_t submitted = 0;   // tasks accepted by Submit
  uint64_t done = 0;        // finished OK
  uint64_t failed = 0;      // finished with an error
  uint64_t cancelled = 0;   // never started because the cancel flag was set
  uint64_t bytes = 0;       // bytes moved so far (parts and partial objects included)
  uint64_t bytes_total = 0; // sizes of the submitted tasks, as far as known
  uint64_t retries = 0;     // request attempts beyond the first, over the client's life
  uint64_t dirs_synced = 0;  // directory fsyncs of downloads (DirSync)
  // Finish: OK, or the first directory fsync that failed (the downloads into it may not have
  // lasted a crash: the command fails).
  Status durable;
};

// Where a download's bytes go. Destroyed without Commit: whatever was written is removed.
class DownloadTarget {
 public:
  virtual ~DownloadTarget() = default;
  virtual Sink& sink() = 0;
  // A descriptor open for reading and writing that parallel ranges may pwrite into; -1 when the
  // target only takes a stream (then large objects come as one GET).
  virtual int positional_fd() const = 0;
  // Makes what was written the target's content (rename over the target); on failure the
  // partial content is removed.
  virtual Status Commit() = 0;
};
// The directories that downloads were renamed into (or made in) whose fsync is still owed: a
// download is durable once its temp file was fsynced before the rename (so a crash shows the old
// file or the whole new one, never a torn one) and its directory was fsynced after (so the new
// name survives). Directory syncs are gathered here and done once per directory: many small files
// into one directory cost one directory fsync, not one each. Add() syncs what it holds when it
// holds `limit` directories, so memory stays bounded whatever the number of directories.
//
// Thread safety: Add and Flush may be called from any thread. A directory added after a Flush
// began is synced by the next Flush (Add is called after the rename it covers).
class DirSync {
 public:
  explicit DirSync(size_t limit = 4096) : limit_(limit) {}
  // Owes an fsync to `dir` ("" is the working directory).
  void Add(std::string dir);
  // Fsyncs every directory added since the last Flush, once each (every one is tried). Returns
  // the first failure of this Flush or of one that Add ran (the error is kept until returned).
  Status Flush();
  uint64_t synced() const { return synced_.load(std::memory_order_relaxed); }

 private:
  size_t limit_;
  // Syncs `dirs`; records a failure in held_. Called with flush_mu_ held.
  void SyncLocked(const std::unordered_set<std::string>& dirs);

  std::mutex mu_;
  std::unordered_set<std::string> pending_;  // under mu_
  std::string last_;                         // under mu_: the last one added (the common case)
  std::mutex flush_mu_;  // held while syncing, so a Flush also waits for one that Add runs
  Status held_;          // under flush_mu_: the first failure not yet returned
  std::atomic<uint64_t> synced_{0};
};

// Opens the target of one download attempt (called once per attempt, from a worker thread).
// `durable` is the engine's DirSync when TransferOptions::fsync_downloads, else null; an opener
// of local files passes it on to OpenLocalDownload.
using DownloadOpener = std::function<Result<std::unique_ptr<DownloadTarget>>(
    const TransferTask& task, DirSync* durable)>;
// The default opener: parent directories of task.local created as needed; a temp file
// ".<name>.cairn-<32 hex digits>" beside it (O_EXCL | O_NOFOLLOW), renamed over task.local on
// Commit; an existing directory, device, FIFO or socket at task.local is kInvalidArgument for
// that object (a symlink there is replaced, not followed). With `durable` (not null): the temp
// file is fsynced before the rename, and the directory renamed into (and the parent of each
// directory made) is added to `durable`, whose Flush makes the names last. Null: no fsync at all
// (scratch use: a crash may leave an empty or torn file under the name, even over an older copy).
Result<std::unique_ptr<DownloadTarget>> OpenLocalDownload(const std::string& path,
                                                          DirSync* durable);

struct TransferOptions {
  int jobs = 32;                             // requests in flight (objects or parts), 1..1024
  uint64_t part_size = uint64_t(8) << 20;    // multipart / ranges above this; 5 MiB..5 GiB
  size_t queue_limit = 0;                    // tasks waiting in Submit's queue; 0: 4 x jobs
  int object_attempts = 3;                   // whole-object attempts on kCorruption / retryable
  // Downloads are durable (see DirSync): each temp file fsynced before its rename, and the
  // directories that received them fsynced by Finish (or sooner, past DirSync's limit). False:
  // no fsync (--no-fsync).
  bool fsync_downloads = true;
  // Copies above this size are multipart (UploadPartCopy parts of at least part_size, up to
  // 256 MiB); at most 5 GiB, S3's limit for CopyObject. Tests lower it.
  uint64_t multipart_copy_above = uint64_t(5) << 30;
  // Set (from a signal handler, say) to stop: no task or part is started after it is seen,
  // multipart uploads in flight are aborted, partial downloads removed. May be null.
  const std::atomic<bool>* cancel = nullptr;
  // One call per finished task; see the file comment. May be empty.
  std::function<void(const TransferResult&)> on_result;
  DownloadOpener open_download;  // empty: OpenLocalDownload(task.local, durable)
};

class TransferEngine {
 public:
  // Starts `jobs` worker threads (the only threads the engine makes). The client must outlive
  // the engine. kInvalidArgument for options out of range.
  static Result<std::unique_ptr<TransferEngine>> Create(S3Client& client, TransferOptions opts);
  // Finishes (waits for) everything still queued.
  ~TransferEngine();
  TransferEngine(const TransferEngine&) = delete;
  TransferEngine& operator=(const TransferEngine&) = delete;

  // Queues a task; blocks while the queue is full. kAborted once the cancel flag is set (the
  // task is not queued then: stop producing); kInvalidArgument after Finish.
  Status Submit(TransferTask task);
  // Adds to Stats::bytes_total for progress (tasks whose size the producer knows ahead).
  void AddExpectedBytes(uint64_t n);
  // Waits until every queued task has finished, then fsyncs the directories downloads were
  // renamed into (fsync_downloads); no Submit after it. Returns the final counters, with
  // TransferStats::durable saying whether those syncs succeeded.
  TransferStats Finish();
  TransferStats stats() const;

  // The part size used for an object of `size` bytes: part_size, grown so that the object needs
  // at most 10,000 parts.
  static uint64_t PartSizeFor(uint64_t size, uint64_t part_size);

  struct Multi;  // one multipart object in flight (implementation)

 private:
  TransferEngine(S3Client& client, TransferOptions opts);
  void Worker();
  bool Cancelled() const;
  void RunTask(TransferTask& task, std::vector<char>& buf);
  void Start(std::shared_ptr<Multi> m);  // its parts are handed to idle workers
  void RunPart(const std::shared_ptr<Multi>& m, uint32_t index);
  void FinishMulti(const std::shared_ptr<Multi>& m);
  void Report(const TransferTask& task, Status status, uint64_t bytes, std::string etag);
  // Each runs one task; *handed = true when it became a multipart object (in multis_), which
  // FinishMulti reports.
  Status Upload(TransferTask& task, std::vector<char>& buf, uint64_t* bytes, std::string* etag,
                bool* handed);
  Status Download(TransferTask& task, uint64_t* bytes, std::string* etag, bool* handed);
  Status Copy(TransferTask& task, std::string* etag, bool* handed);

  S3Client& client_;
  TransferOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, space_cv_, idle_cv_;
  std::deque<TransferTask> queue_;
  std::deque<std::shared_ptr<Multi>> multis_;  // multipart objects with parts not started yet
  int busy_ = 0;                               // workers running a task or a part
  bool closing_ = false;
  std::mutex report_mu_;
  std::atomic<uint64_t> submitted_{0}, done_{0}, failed_{0}, cancelled_{0}, bytes_{0},
      bytes_total_{0};
  std::vector<std::thread> workers_;
  DirSync dir_sync_;
  Status durable_;  // set by Finish
};

}  // namespace cairn::s3
