// ObjectStore: the seam of the system. Buckets and objects, streamed in and out; the S3 server,
// the CLI and the benchmarks all go through it. Implementations: ErasureSet (a volume set);
// later PlainDir (a directory served as-is).
//
// Thread safety: every method may be called concurrently. Concurrent PUT/GET/DELETE of one key
// never expose a torn object: a reader sees one complete version or none.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "libstore/common/status.h"

namespace cairn {

// Where a PUT's body comes from. Read returns bytes read, 0 only at end of stream.
class Source {
 public:
  virtual ~Source() = default;
  virtual Result<size_t> Read(void* buf, size_t n) = 0;
};

// Reads from src until n bytes arrived or the source ended; returns how many arrived.
Result<size_t> ReadFull(Source& src, void* buf, size_t n);

// Where a GET's body goes. A failed Write aborts the GET with that status.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Write(const void* data, size_t n) = 0;
};

enum class EtagMode { kMd5, kFast };

struct PutOptions {
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  EtagMode etag = EtagMode::kMd5;
  bool fsync = true;  // data, metadata and directories durable before success
};

// Limits of PutOptions, as S3 sets them: user metadata at most 2 KiB, counted as S3 counts it
// (the bytes of every key and value, summed); keys are HTTP header tokens (they travel as
// x-amz-meta-KEY) of at most 1 KiB, unique ignoring case, at most 1024 of them; values hold no
// control characters; a content type of at most 256 bytes without control characters. Every
// store refuses more, before reading the body. (Within these limits every object metadata copy
// can be written and read back: see the format's limits in object_meta.h.)
constexpr size_t kMaxUserMetaBytes = 2048;
constexpr size_t kMaxContentTypeLen = 256;
// kInvalidArgument naming the first limit broken.
Status ValidatePutOptions(const PutOptions& o);

// A member of a volume set that did not take a write that succeeded without it.
struct MissedWrite {
  uint32_t position = 0;  // member position in the set
  bool offline = false;   // it was offline (else: the write to it failed)
  std::string why;        // the error, for a failed write
};

struct ObjectInfo {
  std::string bucket, key;
  uint64_t size = 0;
  std::string etag;
  int64_t mod_time_ns = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  // PUT on a volume set: the members that missed the write (the object is queued for healing).
  // Empty when every member took it, and for every other call.
  std::vector<MissedWrite> missed;
};

struct BucketInfo {
  std::string name;
  int64_t created_ns = 0;
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;           // empty: no roll-up
  std::string start_after;         // list keys strictly after this one
  std::string continuation_token;  // from a previous ListResult; overrides start_after
  int max_keys = 1000;             // objects + common prefixes per page, 1..1000
};

struct ListResult {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_token;  // opaque; pass back as continuation_token
};

struct GetRange {
  uint64_t first = 0;
  uint64_t last = UINT64_MAX;  // inclusive; clipped to the object size
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Status MakeBucket(const std::string& bucket) = 0;
  // Fails with kNotEmpty unless force, which removes every object first.
  virtual Status RemoveBucket(const std::string& bucket, bool force) = 0;
  virtual Result<std::vector<BucketInfo>> ListBuckets() = 0;
  virtual Status BucketExists(const std::string& bucket) = 0;

  // Streams the body from src. On failure nothing is visible and an older object is intact.
  virtual Result<ObjectInfo> PutObject(const std::string& bucket, const std::string& key, Source& src,
                                       const PutOptions& opts) = 0;
  // Streams bytes [range.first, range.last] to sink, every byte verified. A range starting past
  // the end is kInvalidArgument (S3: InvalidRange). If the data cannot be rebuilt the GET fails
  // (kDataLoss) before writing any byte of the bad block.
  virtual Result<ObjectInfo> GetObject(const std::string& bucket, const std::string& key, Sink& sink,
                                       GetRange range = {}) = 0;
  virtual Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key) = 0;
  virtual Status DeleteObject(const std::string& bucket, const std::string& key) = 0;
  virtual Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& opts) = 0;
};

}  // namespace cairn
