// The plan of `cairn sync SRC DST`: a merge-join of two key-ordered streams (a local walk,
// local_walk.h, or an S3 listing) into a stream of actions: copy what is missing on DST or
// differs, delete (with --delete) what DST has and SRC has not. Neither listing is ever held
// whole: each stream holds one directory's listing or one page, and the plan one entry of each.
//
// Compare rules (docs/commands.md, "sync"), keys relative to the two roots:
//   - missing on DST: copy;
//   - sizes differ: copy;
//   - by default, SRC newer than DST, in whole seconds (S3 LastModified has no more): copy.
//     An upload's LastModified is the upload's time, so the file it came from is not newer the
//     next time; a download is given the object's LastModified as its mtime for the same reason;
//   - --checksum: the bytes decide instead of the times, where they can be compared: an MD5 ETag
//     against the local file's MD5; a multipart ETag against the local file's multipart ETag for
//     the part sizes it can have been uploaded with (multipart_part_sizes); two ETags that are
//     equal. Where they cannot (a multipart ETag that no candidate part size explains, an MD5 ETag
//     against a multipart one between two buckets), size and time decide as without --checksum.
//   - --exclude/--include (KeyFilter) apply to both sides: a filtered-out key is neither copied nor
//     deleted.
// A destination key that is not a safe relative path for a local directory (empty segments, "."
// or "..", a leading '/') is refused (an action of kind kRefuse), never written; keys ending in
// '/' (folder markers) are not downloaded.
//
// Thread safety: a planner and its streams belong to one thread (RemoteStream runs its own
// listing thread inside).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "libstore/client/key_filter.h"
#include "libstore/client/local_walk.h"
#include "libstore/client/s3_client.h"
#include "libstore/common/status.h"

namespace cairn::s3 {

struct SyncEntry {
  std::string key;       // relative to the stream's root
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // a file's mtime, an object's LastModified
  std::string etag;      // objects only, without quotes
  std::string path;      // files only: where to open it
};

// A key-ordered source of entries.
class EntryStream {
 public:
  virtual ~EntryStream() = default;
  // The next entry into *e; false at the end; a failure ends the stream.
  virtual Result<bool> Next(SyncEntry* e) = 0;
};

// The files of a local walk.
class LocalStream : public EntryStream {
 public:
  explicit LocalStream(std::unique_ptr<LocalWalker> walker) : walker_(std::move(walker)) {}
  Result<bool> Next(SyncEntry* e) override;

 private:
  std::unique_ptr<LocalWalker> walker_;
  LocalFile file_;
};

// No entries (a destination directory that does not exist yet).
class EmptyStream : public EntryStream {
 public:
  Result<bool> Next(SyncEntry*) override { return false; }
};

// The objects below s3://bucket/prefix, keys relative to the prefix. A listing thread fetches the
// next page while the current one is consumed: at most two pages in memory. The destructor stops
// the listing (at the next page boundary) and joins the thread.
class RemoteStream : public EntryStream {
 public:
  // max_keys: the page size asked of the server (tests use small pages).
  RemoteStream(S3Client& client, std::string bucket, std::string prefix, int max_keys = 1000);
  ~RemoteStream() override;
  Result<bool> Next(SyncEntry* e) override;

 private:
  void Produce();
  S3Client& client_;
  const std::string bucket_, prefix_;
  const int max_keys_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ObjectEntry> ready_;  // the next page, when has_ready_
  bool has_ready_ = false, done_ = false, cancel_ = false;
  Status final_;
  std::vector<ObjectEntry> page_;  // being consumed
  size_t pos_ = 0;
  bool started_ = false;
};

enum class ActionKind { kCopy, kDelete, kRefuse };
enum class Reason { kMissing, kSizeDiffers, kNewer, kChecksumDiffers, kNotInSource, kUnsafeKey };
const char* Name(ActionKind k);  // "copy", "delete", "refuse"
const char* Name(Reason r);      // "missing", "size", "newer", "checksum", "not-in-source", "unsafe-key"

struct SyncAction {
  ActionKind kind = ActionKind::kCopy;
  Reason reason = Reason::kMissing;
  SyncEntry src;  // kCopy, kRefuse
  SyncEntry dst;  // kDelete; kCopy when has_dst (what is replaced)
  bool has_dst = false;
};

// Whether two entries hold the same bytes: true/false, or nullopt when it cannot be told (then
// size and time decide). Used with --checksum only.
using ContentCompare =
    std::function<Result<std::optional<bool>>(const SyncEntry& src, const SyncEntry& dst)>;

struct PlanOptions {
  bool delete_extra = false;  // --delete
  bool checksum = false;      // --checksum (needs same_content)
  bool local_destination = false;  // refuse keys that are not safe relative paths
  KeyFilter filter;
  ContentCompare same_content;
};

// The copy rule for one key present on both sides: the reason to copy, or nullopt (unchanged).
// `same` is the --checksum answer (nullopt: not asked, or could not tell).
std::optional<Reason> CopyReason(const SyncEntry& src, const SyncEntry& dst,
                                 std::optional<bool> same);

// True when key (relative) can be a file below a local root: not empty, no leading '/', no empty,
// "." or ".." segment, no NUL.
bool IsSafeRelativePath(std::string_view key);

class SyncPlanner {
 public:
  // The streams must outlive the planner.
  SyncPlanner(EntryStream& src, EntryStream& dst, PlanOptions o)
      : src_(src), dst_(dst), o_(std::move(o)) {}
  // The next action into *a; false when the plan is complete. A stream's failure, or a stream out
  // of key order (kInternal: a server that lists out of order), ends the plan.
  Result<bool> Next(SyncAction* a);
  // Keys present on both sides and left alone, so far.
  uint64_t unchanged() const { return unchanged_; }
  // Keys left out by the filter (both sides), so far.
  uint64_t filtered() const { return filtered_; }

 private:
  // Advances one side to its next included entry; *has false at its end.
  Status Pull(EntryStream& s, SyncEntry* e, bool* has, std::string* last, const char* side);

  EntryStream& src_;
  EntryStream& dst_;
  PlanOptions o_;
  bool started_ = false, has_src_ = false, has_dst_ = false;
  SyncEntry s_, d_;
  std::string last_src_, last_dst_;
  uint64_t unchanged_ = 0, filtered_ = 0;
};

// S3's ISO 8601 time ("2026-12-03T07:16:08.000Z") as nanoseconds since the epoch; nullopt when
// malformed.
std::optional<int64_t> ParseS3Time(std::string_view t);

// The multipart ETag ("<hex MD5 of the parts' MD5s>-N") of the file at fd for a part size.
Result<std::string> MultipartEtag(int fd, uint64_t size, uint64_t part_size);
// The part sizes a multipart object of `size` bytes in `parts` parts can have been uploaded with
// by cairn or the usual clients: 8 MiB (cairn, aws cli), 5, 16, 64 MiB, cairn's growth rule for
// large files, and the size / parts rounded up to a MiB; those that give `parts` parts, once each.
std::vector<uint64_t> CandidatePartSizes(uint64_t size, uint32_t parts);
// --checksum between a local file (path, size) and an object's ETag: MD5 ETags compared with the
// file's MD5, multipart ETags with the file's for each candidate part size; nullopt when no
// candidate explains the part count.
Result<std::optional<bool>> LocalMatchesEtag(const std::string& path, uint64_t size,
                                             const std::string& etag);
// --checksum between two objects: equal ETags are the same bytes; two MD5 ETags that differ are
// not; anything else cannot be told.
std::optional<bool> EtagsMatch(const std::string& a, const std::string& b);

}  // namespace cairn::s3
